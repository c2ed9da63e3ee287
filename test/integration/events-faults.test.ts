import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventsApp } from '../../functions/events/app.ts';
import { freePort } from '../../infra/local/free-port.ts';
import { startLocalPostgres } from '../../infra/local/postgres.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { migrate } from '../../shared/db/migrate.ts';
import { silentLogger } from '../../shared/log/logger.ts';
import { createServices } from '../../shared/services.ts';
import { minioBody, postEvent, putObject } from '../helpers/events.ts';
import { runPython } from '../helpers/h5py.ts';
import { killIngestMidCopy } from '../helpers/kill-mid-copy.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

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
    const res = await postEvent(app, minioBody(stack.bucket, 'lab/truncated.h5', etag));
    expect(res.status).toBe(200);
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
    const config = parseConfig({
      JWT_SECRET: 'x',
      DATABASE_URL: server.url(),
      MINIO_ENDPOINT: stack.config.s3.endpoint,
      MINIO_ACCESS_KEY: stack.config.s3.accessKey as string,
      MINIO_SECRET_KEY: stack.config.s3.secretKey as string,
      MINIO_BUCKET: stack.bucket,
      SLUICE_WEBHOOK_TOKEN: 'test-webhook-token',
    });
    const services = createServices(config, { log: silentLogger });
    try {
      await migrate(services.db);
      const file = path.join(stack.tmp, 'restart.h5');
      bigFile(file, 1000);
      const etag = await putObject(stack, 'lab/restart.h5', file);
      const app = createEventsApp(services);
      const body = minioBody(stack.bucket, 'lab/restart.h5', etag);

      await server.stop();
      const down = await postEvent(app, body);
      expect(down.status).toBe(503);
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
