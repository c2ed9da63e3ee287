import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StackFile } from '../../infra/cli/lib/stack-file.ts';
import { freePort } from '../../infra/local/free-port.ts';

type StackJson = StackFile;
const exec = promisify(execFile);

let root: string;
let stateDir: string;
const started: ChildProcess[] = [];
let ports: { api: number; pg: number; s3: number };

function start(extraEnv: Record<string, string> = {}): {
  child: ChildProcess;
  output: () => string;
} {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/start.ts'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_OPTIONS: '--openssl-legacy-provider',
      SLUICE_STATE_DIR: stateDir,
      PORT: String(ports.api),
      SLUICE_PG_PORT: String(ports.pg),
      SLUICE_S3_PORT: String(ports.s3),
      SLUICE_RESCAN_INTERVAL_S: '0',
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  return { child, output: () => out };
}

/**
 * Waits until this run has printed its banner ("details in ...", written once it listens) and its API
 * answers /readyz. The banner matters: other test files start servers on ports the kernel hands out,
 * and one may hold this port between two runs here; then this run fails to listen and exits, and the
 * wait reports that instead of talking to somebody else's server.
 */
async function waitReady(
  run: { child: ChildProcess; output: () => string },
  url: string,
  ms: number,
): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (run.child.exitCode !== null || run.child.signalCode !== null)
      throw new Error(
        `npm start exited (${run.child.exitCode ?? run.child.signalCode}):\n${run.output()}`,
      );
    const ok =
      run.output().includes('[sluice] details in') &&
      (await fetch(`${url}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      ));
    if (ok) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not ready within ${ms} ms:\n${run.output()}`);
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGINT');
  });
}

// The state folder is `<root>/.sluice`, as `npm start` makes it in a checkout, so the CLI can find it
// from any folder below `<root>`.
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'sluice-stack-'));
  // Postgres runs as its own OS user when the tests run as root: it must be able to reach its folder.
  await chmod(root, 0o755);
  stateDir = path.join(root, '.sluice');
});
// Fresh ports for each test: a port held for the whole file is more likely to be handed to another
// test file's server while this file is between two runs.
beforeEach(async () => {
  const distinct = new Set<number>();
  while (distinct.size < 3) distinct.add(await freePort());
  const [api, pg, s3] = [...distinct] as [number, number, number];
  ports = { api, pg, s3 };
});
// A test that fails midway must not leave its stack running (and holding ports) for the rest of the run.
afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('npm start (local stack)', () => {
  it('starts Postgres, S3 and every function, serves /readyz within 30 s, writes stack.json, stops cleanly, and reuses data', async () => {
    const first = start();
    const readyMs = await waitReady(first, `http://127.0.0.1:${ports.api}`, 30_000);
    expect(readyMs).toBeLessThan(30_000);

    const stack = JSON.parse(
      await readFile(path.join(stateDir, 'stack.json'), 'utf8'),
    ) as StackJson;
    expect(stack.api).toBe(`http://127.0.0.1:${ports.api}`);
    expect(stack.s3).toMatchObject({
      endpoint: `http://127.0.0.1:${ports.s3}`,
      bucket: 'sluice',
      region: 'us-east-1',
    });
    expect(stack.s3.accessKey).toBeTruthy();
    expect(stack.devToken.split('.')).toHaveLength(3);
    expect(first.output()).toContain(stack.devToken);

    // The printed database URL works for psql-like clients; leave a marker to find after a restart.
    const db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
    const migrations = await db.query('SELECT count(*)::int AS n FROM sluice_migrations');
    expect(migrations.rows[0].n).toBeGreaterThan(0);
    await db.query(`INSERT INTO sluice_meta (key, value) VALUES ('stack-test', '"kept"')`);
    await db.end();

    const backends = await fetch(`${stack.api}/api/v1/storage/backends`).then((r) => r.json());
    expect(JSON.stringify(backends)).toContain('"name":"data"');

    expect(await stop(first.child)).toBe(0);
    // Postgres stopped with the stack.
    const down = new pg.Client({
      connectionString: stack.databaseUrl,
      connectionTimeoutMillis: 1000,
    });
    await expect(down.connect()).rejects.toThrow();

    const second = start();
    await waitReady(second, stack.api, 30_000);
    const again = new pg.Client({ connectionString: stack.databaseUrl });
    await again.connect();
    const marker = await again.query(`SELECT value FROM sluice_meta WHERE key = 'stack-test'`);
    expect(marker.rows[0]?.value).toBe('kept');
    await again.end();
    const stack2 = JSON.parse(
      await readFile(path.join(stateDir, 'stack.json'), 'utf8'),
    ) as StackJson;
    expect(stack2.s3.secretKey).toBe(stack.s3.secretKey);
    expect(await stop(second.child)).toBe(0);
  }, 120_000);

  it('lets settings from the environment win over generated defaults', async () => {
    const run = start({ JWT_SECRET: 'from-the-environment', SLUICE_LOCAL_EVENTS: '0' });
    await waitReady(run, `http://127.0.0.1:${ports.api}`, 30_000);
    expect(run.output()).toContain('events     off');
    const stack = JSON.parse(
      await readFile(path.join(stateDir, 'stack.json'), 'utf8'),
    ) as StackJson;
    const { jwtVerify } = await import('jose');
    await expect(
      jwtVerify(stack.devToken, new TextEncoder().encode('from-the-environment')),
    ).resolves.toBeTruthy();
    expect(await stop(run.child)).toBe(0);
  }, 90_000);

  it('ingests an .h5 dropped into the local S3 server, through the relayed bucket notification', async () => {
    const run = start();
    await waitReady(run, `http://127.0.0.1:${ports.api}`, 30_000);
    const stack = JSON.parse(
      await readFile(path.join(stateDir, 'stack.json'), 'utf8'),
    ) as StackJson;
    // Upload through a presigned URL from the presign function, as a user would.
    const up = await fetch(`${stack.api}/api/v1/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.devToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'lab/pytables_itemsize.h5', size: 2096 }),
    }).then((r) => r.json() as Promise<{ url: string; key: string }>);
    const put = await fetch(up.url, {
      method: 'PUT',
      body: await readFile('test/fixtures/hdf5/pytables_itemsize.h5'),
    });
    expect(put.status).toBe(200);
    const db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
    const t0 = Date.now();
    let rows: { n: number }[] = [];
    while (Date.now() - t0 < 20_000) {
      const exists = (await db.query(`SELECT to_regclass('job_pytables_itemsize') AS t`)).rows[0].t;
      if (exists) {
        rows = (await db.query('SELECT count(*)::int AS n FROM job_pytables_itemsize')).rows;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(rows[0]?.n).toBe(3);
    const job = (await db.query('SELECT status, key FROM ingest_jobs WHERE key = $1', [up.key]))
      .rows[0];
    expect(job).toEqual({ status: 'done', key: 'dev/lab/pytables_itemsize.h5' });
    await db.end();
    expect(await stop(run.child)).toBe(0);
  }, 90_000);

  it('with no notifications at all, the scheduled rescan finds the object', async () => {
    const run = start({ SLUICE_LOCAL_EVENTS: '0', SLUICE_RESCAN_INTERVAL_S: '1' });
    await waitReady(run, `http://127.0.0.1:${ports.api}`, 30_000);
    const stack = JSON.parse(
      await readFile(path.join(stateDir, 'stack.json'), 'utf8'),
    ) as StackJson;
    const url = new URL(stack.s3.endpoint);
    const put = await fetch(`${url.origin}/${stack.s3.bucket}/dev/lab/missed.h5`, {
      method: 'PUT',
      body: await readFile('test/fixtures/hdf5/pytables_nested-type-with-gaps.h5'),
    });
    expect(put.status).toBe(200);
    const db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
    const t0 = Date.now();
    let status: string | undefined;
    while (Date.now() - t0 < 20_000 && status !== 'done') {
      status = (await db.query(`SELECT status FROM ingest_jobs WHERE key = 'dev/lab/missed.h5'`))
        .rows[0]?.status;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe('done');
    expect((await db.query('SELECT count(*)::int AS n FROM job_missed')).rows[0].n).toBe(20);
    const runs = (await db.query(`SELECT trigger FROM rescan_runs ORDER BY id DESC LIMIT 1`))
      .rows[0];
    expect(runs.trigger).toBe('http');
    await db.end();
    expect(await stop(run.child)).toBe(0);
  }, 90_000);

  /** Is a process with this pid still running? */
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const postmasterPid = async () =>
    Number(
      (await readFile(path.join(stateDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => '')).split(
        '\n',
      )[0],
    );

  it('a failed start-up says why and leaves nothing running (no Postgres, no S3 server)', async () => {
    const run = start({ SLUICE_ACCESS_TTL_S: 'soon' });
    const code = await new Promise<number | null>((r) => run.child.once('exit', r));
    expect(code).toBe(1);
    // Postgres and the S3 server had started before the setting was read.
    expect(run.output()).toContain('starting embedded Postgres');
    expect(run.output()).toContain('started local S3-protocol server');
    expect(run.output()).toMatch(/start-up failed: .*SLUICE_ACCESS_TTL_S/);
    expect(run.output()).toContain('nothing is left running');
    const pid = await postmasterPid();
    if (pid) expect(alive(pid)).toBe(false);
    const db = new pg.Client({
      connectionString: `postgres://postgres:sluice@127.0.0.1:${ports.pg}/postgres`,
      connectionTimeoutMillis: 1000,
    });
    await expect(db.connect()).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${ports.s3}/`)).rejects.toThrow();
  }, 90_000);

  it('stops a Postgres an earlier run left behind (killed -9) and starts on the same port', async () => {
    const first = start();
    await waitReady(first, `http://127.0.0.1:${ports.api}`, 30_000);
    const exited = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    await exited;
    const stale = await postmasterPid();
    expect(alive(stale)).toBe(true);
    const second = start();
    await waitReady(second, `http://127.0.0.1:${ports.api}`, 40_000);
    expect(second.output()).toContain(
      `found Postgres left running by an earlier run (pid ${stale}`,
    );
    expect(second.output()).toContain(`starting embedded Postgres on 127.0.0.1:${ports.pg}`);
    expect(alive(stale)).toBe(false);
    expect(await stop(second.child)).toBe(0);
  }, 120_000);

  it('sluice doctor beside the running stack uses its settings and passes; the CLI finds .sluice from a subfolder', async () => {
    const run = start();
    await waitReady(run, `http://127.0.0.1:${ports.api}`, 30_000);
    const sub = path.join(root, 'projects', 'run1');
    await mkdir(sub, { recursive: true });
    const cli = (args: string[]) =>
      exec(process.execPath, [path.resolve('infra/cli/bin.mjs'), ...args], {
        cwd: sub,
        env: { PATH: process.env.PATH, HOME: root },
      });
    const doctor = JSON.parse((await cli(['--json', 'doctor'])).stdout) as {
      ok: boolean;
      checks: { check: string; ok: boolean; skipped?: boolean }[];
    };
    expect(doctor.checks.filter((c) => !c.ok)).toEqual([]);
    expect(doctor.ok).toBe(true);
    await writeFile(path.join(sub, 'note.txt'), 'hello');
    expect((await cli(['upload', 'note.txt'])).stdout.trim()).toBe('dev/note.txt');
    expect((await cli(['ls'])).stdout).toContain('dev/note.txt');
    // minio setup reads the same local settings (it failed with "JWT_SECRET: required" before).
    const hook = `http://127.0.0.1:${ports.api}/minio-event`;
    const setup = await cli(['minio', 'setup', '--webhook-url', hook]);
    expect(setup.stdout).toContain(`notify_webhook:sluice endpoint="${hook}"`);
    expect(setup.stdout).toContain('npm start relays its events to /minio-event itself');
    expect(await stop(run.child)).toBe(0);
  }, 90_000);
});
