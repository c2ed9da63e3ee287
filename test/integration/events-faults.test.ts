import { readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventsApp } from '../../functions/events/app.ts';
import { freePort } from '../../infra/local/free-port.ts';
import { startLocalPostgres } from '../../infra/local/postgres.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { migrate } from '../../shared/db/migrate.ts';
import { pipelineWorkerCount } from '../../shared/ingest/pipeline-host.ts';
import { silentLogger } from '../../shared/log/logger.ts';
import { createServices, type Services } from '../../shared/services.ts';
import { minioBody, postEvent, putObject } from '../helpers/events.ts';
import { cuttingProxy, hungServer } from '../helpers/faulty-servers.ts';
import { ensurePyTables, runPython } from '../helpers/h5py.ts';
import { killIngestMidCopy } from '../helpers/kill-mid-copy.ts';
import { createTestStack, stackEnv, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let db: pg.Client;
beforeAll(async () => {
  stack = await createTestStack({ SLUICE_LEASE_S: '2', SLUICE_MAX_CONCURRENT_INGESTS: '4' });
  db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db.end();
  await stack.close();
});

/** A compound table of `rows` x 4 float64 written by h5py. */
function bigFile(file: string, rows: number) {
  runPython(
    `
import h5py, sys, numpy as np
n = int(sys.argv[2])
dt = np.dtype([('a', '<f8'), ('b', '<f8'), ('c', '<i8'), ('d', '<f8')])
data = np.zeros(n, dtype=dt)
data['a'] = np.arange(n) * 0.5
data['b'] = np.sin(np.arange(n))
data['c'] = np.arange(n)
data['d'] = 1.0
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('samples', data=data, chunks=(min(65536, n),))
`,
    [file, String(rows)],
  );
}

const tableExists = async (name: string) =>
  (await db.query('SELECT to_regclass($1) AS t', [`public."${name}"`])).rows[0].t !== null;

describe('exactly once in effect, whatever the delivery does', () => {
  it('three concurrent deliveries of one event give one table with the right rows', async () => {
    const file = path.join(stack.tmp, 'triple.h5');
    bigFile(file, 50_000);
    const etag = await putObject(stack, 'lab/triple.h5', file);
    const app = createEventsApp(stack.services);
    const body = minioBody(stack.bucket, 'lab/triple.h5', etag);
    const responses = await Promise.all([
      postEvent(app, body),
      postEvent(app, body),
      postEvent(app, body),
    ]);
    const statuses = await Promise.all(
      responses.map(
        async (r) => ((await r.json()) as { results: { status: string }[] }).results[0]?.status,
      ),
    );
    expect(statuses.filter((s) => s === 'done')).toHaveLength(1);
    expect(statuses.every((s) => ['done', 'in_progress', 'duplicate'].includes(s as string))).toBe(
      true,
    );
    expect((await db.query('SELECT count(*)::int AS n FROM job_triple')).rows[0].n).toBe(50_000);
    const jobs = await db.query(
      `SELECT status, attempts FROM ingest_jobs WHERE key = 'lab/triple.h5'`,
    );
    expect(jobs.rows).toEqual([{ status: 'done', attempts: 1 }]);
    // A fourth, late delivery is a duplicate and does no work.
    const late = (await (await postEvent(app, body)).json()) as { results: { status: string }[] };
    expect(late.results[0]?.status).toBe('duplicate');
  });

  it('a process killed mid-COPY leaves no table; the next delivery after the lease completes it', async () => {
    const file = path.join(stack.tmp, 'killed.h5');
    bigFile(file, 1_500_000);
    const etag = await putObject(stack, 'lab/killed.h5', file);
    // The dead attempt's lease outlasts the early check below.
    const killed = await killIngestMidCopy(stack, 'lab/killed.h5', etag, 6);
    expect(killed).toEqual({ copying: true, signal: 'SIGKILL' });
    await new Promise((r) => setTimeout(r, 500));
    expect(await tableExists('job_killed')).toBe(false);
    const stg = await db.query(
      `SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE '_sluice_stg_%'`,
    );
    expect(stg.rows[0].n).toBe(0);
    expect(
      (await db.query(`SELECT status FROM ingest_jobs WHERE key = 'lab/killed.h5'`)).rows[0].status,
    ).toBe('running');

    const app = createEventsApp(stack.services);
    const body = minioBody(stack.bucket, 'lab/killed.h5', etag);
    // While the dead attempt's lease lasts, a delivery is told it is in progress.
    const early = (await (await postEvent(app, body)).json()) as { results: { status: string }[] };
    expect(early.results[0]?.status).toBe('in_progress');
    await new Promise((r) => setTimeout(r, 6500));
    const res = (await (await postEvent(app, body)).json()) as { results: { status: string }[] };
    expect(res.results[0]?.status).toBe('done');
    expect((await db.query('SELECT count(*)::int AS n FROM job_killed')).rows[0].n).toBe(1_500_000);
    const job = (
      await db.query(`SELECT status, attempts FROM ingest_jobs WHERE key = 'lab/killed.h5'`)
    ).rows[0];
    expect(job).toEqual({ status: 'done', attempts: 2 });
  }, 180_000);

  it('a truncated file fails with a reason and the server keeps serving', async () => {
    const file = path.join(stack.tmp, 'whole.h5');
    bigFile(file, 10_000);
    const bytes = await readFile(file);
    await writeFile(
      path.join(stack.tmp, 'truncated.h5'),
      bytes.subarray(0, Math.floor(bytes.length / 2)),
    );
    const etag = await putObject(stack, 'lab/truncated.h5', path.join(stack.tmp, 'truncated.h5'));
    const app = createEventsApp(stack.services);
    const t0 = Date.now();
    const res = await postEvent(app, minioBody(stack.bucket, 'lab/truncated.h5', etag));
    expect(res.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const body = (await res.json()) as { results: { status: string; reason: string }[] };
    expect(body.results[0]?.status).toBe('failed');
    expect(body.results[0]?.reason).toMatch(/HDF5 read failed|HDF5 signature/);
    expect(await tableExists('job_truncated')).toBe(false);
    const job = (
      await db.query(
        `SELECT status, failure_kind, error FROM ingest_jobs WHERE key = 'lab/truncated.h5'`,
      )
    ).rows[0];
    expect(job).toMatchObject({ status: 'failed', failure_kind: 'permanent' });
    // Redelivery of a permanently failed version does not retry it.
    const again = (await (
      await postEvent(app, minioBody(stack.bucket, 'lab/truncated.h5', etag))
    ).json()) as { results: { status: string }[] };
    expect(again.results[0]?.status).toBe('failed');
    // The same process still ingests good files.
    const okTag = await putObject(stack, 'lab/whole.h5', file);
    const ok = (await (
      await postEvent(app, minioBody(stack.bucket, 'lab/whole.h5', okTag))
    ).json()) as { results: { status: string }[] };
    expect(ok.results[0]?.status).toBe('done');
    // A text file with an .h5 name is refused the same way.
    const textTag = await putObject(
      stack,
      'lab/notes.h5',
      new TextEncoder().encode('this is not HDF5\n'),
    );
    const text = (await (
      await postEvent(app, minioBody(stack.bucket, 'lab/notes.h5', textTag))
    ).json()) as { results: { status: string; reason: string }[] };
    expect(text.results[0]).toMatchObject({ status: 'failed' });
    expect(text.results[0]?.reason).toContain('not a readable HDF5 file');
  });
});

describe('Postgres restarted mid-run', () => {
  it('answers 503 while the database is down, then succeeds on the retry', async () => {
    const pgDir = path.join(stack.tmp, 'own-pg');
    const port = await freePort();
    let server = await startLocalPostgres({ dir: pgDir, port });
    const services = servicesWith({ DATABASE_URL: server.url() });
    try {
      await migrate(services.db);
      const file = path.join(stack.tmp, 'restart.h5');
      bigFile(file, 1000);
      const etag = await putObject(stack, 'lab/restart.h5', file);
      const app = createEventsApp(services);
      const body = minioBody(stack.bucket, 'lab/restart.h5', etag);

      await server.stop();
      const t0 = Date.now();
      const down = await postEvent(app, body);
      expect(down.status).toBe(503);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(down.headers.get('retry-after')).toBeTruthy();
      const err = (await down.json()) as { code: string; message: string };
      expect(err.code).toBe('UNAVAILABLE');
      expect(JSON.stringify(err)).not.toMatch(/at .*\.ts:\d+/);

      server = await startLocalPostgres({ dir: pgDir, port });
      const up = await postEvent(app, body);
      expect(up.status).toBe(200);
      const ok = (await up.json()) as { results: { status: string; rows: number }[] };
      expect(ok.results[0]).toMatchObject({ status: 'done', rows: 1000 });
    } finally {
      await services.close();
      await server.stop().catch(() => {});
    }
  }, 120_000);
});

// The fault matrix: one test per dependency and failure mode. Each asserts a bounded answer (status
// and time), the job's final state, and that the next event is still processed.

/** Services like the stack's, with settings (environment strings) changed. */
function servicesWith(env: Record<string, string>): Services {
  return createServices(
    parseConfig({ ...stackEnv(stack), SLUICE_WEBHOOK_TOKEN: 'test-webhook-token', ...env }),
    { log: silentLogger },
  );
}

/** Posts one object's event and measures the answer. */
async function deliver(app: ReturnType<typeof createEventsApp>, key: string, etag: string) {
  const t0 = Date.now();
  const res = await postEvent(app, minioBody(stack.bucket, key, etag));
  const body = (await res.json()) as {
    results?: { status: string; reason?: string; rows?: number }[];
    code?: string;
    message?: string;
  };
  return { res, body, result: body.results?.[0], ms: Date.now() - t0 };
}

const jobOf = async (key: string) =>
  (
    await db.query(
      `SELECT status, failure_kind, error, attempts, next_attempt_at FROM ingest_jobs WHERE key = $1`,
      [key],
    )
  ).rows[0];

/** A small good file, for "the next event is still processed". */
async function nextEventIsProcessed(app: ReturnType<typeof createEventsApp>, key: string) {
  const file = path.join(stack.tmp, `${key.replaceAll('/', '_')}.h5`);
  bigFile(file, 100);
  const { res, result } = await deliver(app, key, await putObject(stack, key, file));
  expect(res.status).toBe(200);
  expect(result).toMatchObject({ status: 'done', rows: 100 });
}

/** A gzip-compressed table of zeros: a small object whose reading takes seconds of HDF5 work. */
function slowToRead(file: string, rows: number) {
  runPython(
    `
import h5py, sys, numpy as np
n = int(sys.argv[2])
dt = np.dtype([('a', '<f8'), ('b', '<f8'), ('c', '<i8'), ('d', '<f8')])
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('samples', data=np.zeros(n, dtype=dt), chunks=(65536,), compression='gzip', compression_opts=9)
`,
    [file, String(rows)],
  );
}

/** Every process of a Postgres server: the postmaster (first line of postmaster.pid) and its children. */
function postgresPids(dataDir: string): number[] {
  const master = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // Field 4 of /proc/<pid>/stat is the parent pid (after the parenthesised name).
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === master;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [master, ...children];
}

describe('fault matrix: HDF5', () => {
  it('a file that needs a missing filter (PyTables LZO) fails for good, naming filter and dataset', async () => {
    ensurePyTables();
    const file = path.join(stack.tmp, 'lzo.h5');
    execPyTables(file);
    const app = createEventsApp(stack.services);
    const key = 'matrix/lzo.h5';
    const { res, result, ms } = await deliver(app, key, await putObject(stack, key, file));
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(10_000);
    expect(result?.status).toBe('failed');
    expect(result?.reason).toMatch(/lzo/);
    expect(result?.reason).toMatch(/filter 305/);
    expect(result?.reason).toContain('/data');
    expect(await jobOf(key)).toMatchObject({ status: 'failed', failure_kind: 'permanent' });
    expect(await tableExists('job_lzo')).toBe(false);
    await nextEventIsProcessed(app, 'matrix/after-lzo.h5');
  });

  it('past SLUICE_INGEST_TIMEOUT_S the HDF5 thread is terminated: 503, transient failure, then retried', async () => {
    const file = path.join(stack.tmp, 'slow.h5');
    slowToRead(file, 3_000_000);
    const key = 'matrix/slow.h5';
    const etag = await putObject(stack, key, file);
    const hasty = servicesWith({ SLUICE_INGEST_TIMEOUT_S: '1' });
    try {
      const app = createEventsApp(hasty);
      const { res, body, ms } = await deliver(app, key, etag);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(body.message).toContain('SLUICE_INGEST_TIMEOUT_S');
      expect(ms).toBeLessThan(6_000);
      // Really stopped: no HDF5 thread is left running, no staging table, no table.
      expect(pipelineWorkerCount().alive - pipelineWorkerCount().idle).toBe(0);
      const stg = await db.query(
        `SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE '_sluice_stg_%'`,
      );
      expect(stg.rows[0].n).toBe(0);
      expect(await tableExists('job_slow')).toBe(false);
      const job = await jobOf(key);
      expect(job).toMatchObject({ status: 'failed', failure_kind: 'transient', attempts: 1 });
      expect(job.next_attempt_at).not.toBeNull();
      expect(job.error).toContain('SLUICE_INGEST_TIMEOUT_S');
    } finally {
      await hasty.close();
    }
    // The retry, with the default deadline, completes.
    const { res, result } = await deliver(createEventsApp(stack.services), key, etag);
    expect(res.status).toBe(200);
    expect(result).toMatchObject({ status: 'done', rows: 3_000_000 });
    expect(await jobOf(key)).toMatchObject({ status: 'done', attempts: 2 });
  }, 120_000);
});

/** Writes a PyTables table compressed with LZO (filter 305), which h5wasm's plugins do not have. */
function execPyTables(file: string) {
  runPython(
    `
import sys, tables, numpy as np
class Row(tables.IsDescription):
    a = tables.Float64Col()
    b = tables.Int32Col()
with tables.open_file(sys.argv[1], 'w') as f:
    t = f.create_table('/', 'data', Row, filters=tables.Filters(complevel=5, complib='lzo'))
    rows = np.zeros(1000, dtype=[('a', '<f8'), ('b', '<i4')])
    rows['a'] = np.arange(1000)
    t.append(rows)
`,
    [file],
  );
}

describe('fault matrix: the object store', () => {
  it('refused: 503 at once, transient failure, and the retry succeeds', async () => {
    const file = path.join(stack.tmp, 's3-refused.h5');
    bigFile(file, 500);
    const key = 'matrix/s3-refused.h5';
    const etag = await putObject(stack, key, file);
    const broken = servicesWith({ MINIO_ENDPOINT: `127.0.0.1:${await freePort()}` });
    try {
      const { res, ms } = await deliver(createEventsApp(broken), key, etag);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(ms).toBeLessThan(10_000);
      expect(await jobOf(key)).toMatchObject({ status: 'failed', failure_kind: 'transient' });
    } finally {
      await broken.close();
    }
    const app = createEventsApp(stack.services);
    const { result } = await deliver(app, key, etag);
    expect(result).toMatchObject({ status: 'done', rows: 500 });
    await nextEventIsProcessed(app, 'matrix/after-s3-refused.h5');
  });

  it('hung (accepts, never answers): 503 within 10 s with the default timeouts', async () => {
    const file = path.join(stack.tmp, 's3-hung.h5');
    bigFile(file, 500);
    const key = 'matrix/s3-hung.h5';
    const etag = await putObject(stack, key, file);
    const hung = await hungServer();
    const stuck = servicesWith({ MINIO_ENDPOINT: hung.endpoint });
    try {
      const { res, ms } = await deliver(createEventsApp(stuck), key, etag);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(ms).toBeLessThan(10_000);
      expect(await jobOf(key)).toMatchObject({ status: 'failed', failure_kind: 'transient' });
    } finally {
      await stuck.close();
      await hung.close();
    }
    const app = createEventsApp(stack.services);
    expect((await deliver(app, key, etag)).result).toMatchObject({ status: 'done', rows: 500 });
  }, 30_000);

  it('object deleted mid-read: 503 for the broken download, then a permanent "no longer exists"', async () => {
    const file = path.join(stack.tmp, 's3-deleted.h5');
    bigFile(file, 20_000);
    const key = 'matrix/s3-deleted.h5';
    const etag = await putObject(stack, key, file);
    const proxy = await cuttingProxy(stack.config.s3.endpoint, 64 * 1024);
    const viaProxy = servicesWith({ MINIO_ENDPOINT: proxy.endpoint });
    try {
      const pending = deliver(createEventsApp(viaProxy), key, etag);
      await proxy.stalled;
      await stack.services.s3.internal.send(
        new DeleteObjectCommand({ Bucket: stack.bucket, Key: key }),
      );
      proxy.cut();
      const { res, ms } = await pending;
      expect(res.status).toBe(503);
      expect(ms).toBeLessThan(10_000);
      expect(await jobOf(key)).toMatchObject({ status: 'failed', failure_kind: 'transient' });
    } finally {
      await viaProxy.close();
      await proxy.close();
    }
    const app = createEventsApp(stack.services);
    const again = await deliver(app, key, etag);
    expect(again.res.status).toBe(200);
    expect(again.result).toMatchObject({
      status: 'failed',
      reason: 'object no longer exists in the bucket',
    });
    expect(await jobOf(key)).toMatchObject({ status: 'failed', failure_kind: 'permanent' });
    expect(await tableExists('job_s3_deleted')).toBe(false);
    await nextEventIsProcessed(app, 'matrix/after-s3-deleted.h5');
  }, 30_000);
});

describe('fault matrix: Postgres', () => {
  it('hung (every process SIGSTOPped): 503 within 10 s, warm pool or cold; ingested once it is back', async () => {
    const pgDir = path.join(stack.tmp, 'hung-pg');
    const server = await startLocalPostgres({ dir: pgDir, port: await freePort() });
    const env = { DATABASE_URL: server.url(), SLUICE_LEASE_S: '2' };
    const warm = servicesWith(env);
    const cold = servicesWith(env);
    const pids: number[] = [];
    try {
      await migrate(warm.db);
      const app = createEventsApp(warm);
      // A first ingest leaves idle connections in the pool: the hung server is met mid-conversation.
      const firstFile = path.join(stack.tmp, 'pg-first.h5');
      bigFile(firstFile, 100);
      const first = await deliver(
        app,
        'matrix/pg-first.h5',
        await putObject(stack, 'matrix/pg-first.h5', firstFile),
      );
      expect(first.result?.status).toBe('done');

      const file = path.join(stack.tmp, 'pg-hung.h5');
      bigFile(file, 1000);
      const key = 'matrix/pg-hung.h5';
      const etag = await putObject(stack, key, file);
      pids.push(...postgresPids(pgDir));
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      for (const services of [warm, cold]) {
        const { res, body, ms } = await deliver(createEventsApp(services), key, etag);
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBeTruthy();
        expect(body.code).toBe('UNAVAILABLE');
        expect(ms).toBeLessThan(10_000);
      }
      for (const pid of pids.splice(0)) process.kill(pid, 'SIGCONT');
      // A claim that reached the stopped server may commit when it resumes; its lease then runs out.
      await new Promise((r) => setTimeout(r, 2500));
      const back = await deliver(app, key, etag);
      expect(back.res.status).toBe(200);
      expect(back.result).toMatchObject({ status: 'done', rows: 1000 });
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
      await warm.close();
      await cold.close();
      await server.stop().catch(() => {});
    }
  }, 120_000);

  it('restarted mid-COPY: 503 in bounded time, no partial table, completed on the retry', async () => {
    const pgDir = path.join(stack.tmp, 'restart-copy-pg');
    const port = await freePort();
    let server = await startLocalPostgres({ dir: pgDir, port });
    const services = servicesWith({ DATABASE_URL: server.url(), SLUICE_LEASE_S: '2' });
    try {
      await migrate(services.db);
      const file = path.join(stack.tmp, 'restart-copy.h5');
      bigFile(file, 1_500_000);
      const key = 'matrix/restart-copy.h5';
      const etag = await putObject(stack, key, file);
      const app = createEventsApp(services);
      const pending = deliver(app, key, etag);
      const watcher = new pg.Client({ connectionString: server.url() });
      await watcher.connect();
      let copying = false;
      for (let i = 0; i < 3000 && !copying; i++) {
        const r = await watcher.query(
          `SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY "_sluice_stg_%' AND state = 'active'`,
        );
        copying = (r.rowCount ?? 0) > 0;
        if (!copying) await new Promise((r) => setTimeout(r, 20));
      }
      await watcher.end().catch(() => {});
      expect(copying).toBe(true);
      const t0 = Date.now();
      await server.stop();
      const { res } = await pending;
      expect(res.status).toBe(503);
      expect(Date.now() - t0).toBeLessThan(15_000);
      server = await startLocalPostgres({ dir: pgDir, port });
      const check = new pg.Client({ connectionString: server.url() });
      await check.connect();
      try {
        const stg = await check.query(
          `SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE '_sluice_stg_%' OR tablename = 'job_restart_copy'`,
        );
        expect(stg.rows[0].n).toBe(0);
      } finally {
        await check.end();
      }
      // The dead attempt's lease (2 s) runs out, then the redelivery completes it.
      await new Promise((r) => setTimeout(r, 2500));
      const again = await deliver(app, key, etag);
      expect(again.res.status).toBe(200);
      expect(again.result).toMatchObject({ status: 'done', rows: 1_500_000 });
    } finally {
      await services.close();
      await server.stop().catch(() => {});
    }
  }, 180_000);
});
