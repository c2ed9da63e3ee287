import pg from 'pg';

export type { Pool, PoolClient } from 'pg';

// int8 and numeric arrive as strings by default; counts in this project fit in a double.
pg.types.setTypeParser(20, (v) => Number(v));

export interface PoolOptions {
  url: string;
  max?: number;
  applicationName?: string;
  /** Opening a connection, or waiting for a free one (default 5 s). */
  connectTimeoutMs?: number;
  /**
   * One query: the client stops waiting for a server that does not answer, and the server cancels
   * statements that run longer (`statement_timeout`). Unset: no bound (the migration job).
   */
  queryTimeoutMs?: number;
  /** Waiting for a lock (`lock_timeout`). Unset: no bound. */
  lockTimeoutMs?: number;
}

/** Creates a pool; it connects lazily on the first query. */
export function createPool(opts: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    application_name: opts.applicationName ?? 'sluice',
    // Client side: a stopped or partitioned server never answers, so only the client can give up.
    ...(opts.queryTimeoutMs ? { query_timeout: opts.queryTimeoutMs } : {}),
    // Server side, sent at connection start-up: nothing runs or waits longer than the client waits.
    ...(opts.queryTimeoutMs ? { statement_timeout: opts.queryTimeoutMs } : {}),
    ...(opts.lockTimeoutMs ? { lock_timeout: opts.lockTimeoutMs } : {}),
    // A connection whose peer vanished is noticed by the kernel instead of lingering for hours.
    keepAlive: true,
  });
  // An idle client losing its connection (Postgres restart) must not crash the process.
  pool.on('error', () => {});
  // Nor a checked-out one between queries (a restart mid-publish): its next query fails instead.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}
