import pg from 'pg';

export type { Pool, PoolClient } from 'pg';

// int8 and numeric arrive as strings by default; counts in this project fit in a double.
pg.types.setTypeParser(20, (v) => Number(v));

/** Creates a pool; it connects lazily on the first query. */
export function createPool(opts: { url: string; max?: number; applicationName?: string }): pg.Pool {
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

/** Runs `fn` inside a transaction on one client, rolling back on any error. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
