import pg from 'pg';

export type { Pool, PoolClient } from 'pg';

// int8 and numeric arrive as strings by default; counts in this project fit in a double.
pg.types.setTypeParser(20, (v) => Number(v));

export interface PoolOptions {
  url: string;
  max?: number;
  applicationName?: string;
}

/** Creates a pool; it connects lazily on the first query. */
export function createPool(opts: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: opts.applicationName ?? 'sluice',
  });
  // An idle client losing its connection (Postgres restart) must not crash the process.
  pool.on('error', () => {});
  return pool;
}
