import type pg from 'pg';
import type { Db } from './lazy-pool.ts';

/** Runs `fn` inside a transaction on one client, rolling back on any error. */
export async function withTransaction<T>(
  pool: Db,
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
