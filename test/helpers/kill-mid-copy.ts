import { spawn } from 'node:child_process';
import pg from 'pg';
import { stackEnv, type TestStack } from './stack.ts';

/**
 * Runs one ingest of `key` in a child process (test/helpers/ingest-child.ts), waits until it is
 * streaming rows into its staging table, and SIGKILLs it. Resolves with whether COPY was caught in
 * flight and how the child ended. The dead attempt's lease is `leaseS` seconds.
 */
export async function killIngestMidCopy(stack: TestStack, key: string, etag: string, leaseS = 6) {
  const env = { ...stackEnv(stack), SLUICE_LEASE_S: String(leaseS) };
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/helpers/ingest-child.ts',
      JSON.stringify({ env, ref: { bucket: stack.bucket, key, etag } }),
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<string | null>((r) =>
    child.once('exit', (_code, signal) => r(signal)),
  );
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  let copying = false;
  try {
    const t0 = Date.now();
    while (!copying && Date.now() - t0 < 60_000) {
      const r = await db.query(
        // Other test files share this Postgres server: only this file's database counts.
        `SELECT 1 FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'COPY "_sluice_stg_%' AND state = 'active'`,
      );
      copying = (r.rowCount ?? 0) > 0;
      if (!copying) await new Promise((res) => setTimeout(res, 20));
    }
  } finally {
    await db.end();
  }
  child.kill('SIGKILL');
  return { copying, signal: await exited };
}
