import type pg from 'pg';
import type { PoolOptions } from './pool.ts';

/** What services need from a pool: a real `pg.Pool` or a {@link LazyPool}. */
export type Db = Pick<pg.Pool, 'query' | 'connect'>;

/**
 * A Postgres pool whose driver is loaded on the first query. Functions create their services at start,
 * but many requests never touch Postgres (presigning with a JWT does not), so a cold start does not pay
 * for loading pg (several ms). `query` and `connect` behave as the pool's; `created` is the pool once
 * it exists (metrics read its counters without creating it).
 */
export class LazyPool implements Db {
  readonly #opts: PoolOptions;
  #pool: pg.Pool | undefined;
  #creating: Promise<pg.Pool> | undefined;

  constructor(opts: PoolOptions) {
    this.#opts = opts;
  }

  /** The pool, created (and pg loaded) on first call. */
  pool(): Promise<pg.Pool> {
    this.#creating ??= import('./pool.ts').then(({ createPool }) => {
      this.#pool = createPool(this.#opts);
      return this.#pool;
    });
    return this.#creating;
  }

  get created(): pg.Pool | undefined {
    return this.#pool;
  }

  // Typed as the pool's own query, so callers keep its overloads and result types.
  readonly query = ((...args: never[]) =>
    this.pool().then((p) => (p.query as (...a: never[]) => unknown)(...args))) as pg.Pool['query'];

  readonly connect = (() => this.pool().then((p) => p.connect())) as pg.Pool['connect'];

  /** Closes the pool if it was ever created. */
  async end(): Promise<void> {
    const pool = this.#creating && (await this.#creating);
    await pool?.end();
  }
}
