// Applies the database migrations and exits: run it as a Kubernetes Job (or init container) before the
// functions roll out. Safe to run concurrently: the runner takes an advisory lock.
import { getConfig } from '../../shared/config/load.ts';
import { migrate } from '../../shared/db/migrate.ts';
import { createPool } from '../../shared/db/pool.ts';

async function run(): Promise<undefined> {
  const config = getConfig();
  const pool = createPool({ url: config.database.url, max: 1 });
  try {
    const applied = await migrate(pool);
    process.stdout.write(`${JSON.stringify({ msg: 'migrations applied', applied })}\n`);
  } finally {
    await pool.end();
  }
  return undefined;
}

/** Settles when the migrations are applied (the bundle launcher waits for it and reports a failure). */
export const ready = run();
