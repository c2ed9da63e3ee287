import type pg from 'pg';
import { AppError } from '../errors.ts';
import type { Db } from './lazy-pool.ts';

/**
 * Runs `fn` inside a transaction on a client the caller already holds (migrations keep one session
 * for their advisory lock), rolling back on any error. The one place BEGIN/COMMIT/ROLLBACK is written.
 */
export async function inTransaction<T>(
  client: pg.PoolClient,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/**
 * Runs `fn` inside a transaction on one pooled client. A client that failed for any reason other than
 * a refusal Sluice raised itself (a COPY cut off midway, a dropped connection) is discarded rather than
 * handed to the next caller.
 */
export async function withTransaction<T>(
  pool: Db,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    return await inTransaction(client, fn);
  } catch (err) {
    if (!(err instanceof AppError)) broken = err as Error;
    throw err;
  } finally {
    client.release(broken);
  }
}
