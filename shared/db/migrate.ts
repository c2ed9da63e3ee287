import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './lazy-pool.ts';
import { inTransaction } from './transaction.ts';

/**
 * Where the ordered `NNN-name.sql` files live. Bundles ship them beside the entry under `migrations/`;
 * from source they sit next to this module.
 */
export function defaultMigrationsDir(): string {
  return fileURLToPath(new URL('./migrations/', import.meta.url));
}

/** Arbitrary constant so concurrent starters (replicas, test files) apply migrations one at a time. */
const LOCK_KEY = 7_310_221;

/**
 * Applies every not-yet-applied migration in file-name order, each in its own transaction, recording
 * it in `sluice_migrations`. Returns the names applied by this call.
 */
export async function migrate(pool: Db, dir = defaultMigrationsDir()): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{3}-[a-z0-9-]+\.sql$/.test(f)).sort();
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS sluice_migrations (
         name text PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const done = new Set(
      (await client.query<{ name: string }>('SELECT name FROM sluice_migrations')).rows.map(
        (r) => r.name,
      ),
    );
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(path.join(dir, file), 'utf8');
      try {
        await inTransaction(client, async (tx) => {
          await tx.query(sql);
          await tx.query('INSERT INTO sluice_migrations (name) VALUES ($1)', [file]);
        });
      } catch (err) {
        throw new Error(`Migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(file);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
    client.release();
  }
  return applied;
}
