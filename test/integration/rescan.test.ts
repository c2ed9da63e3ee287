import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventsApp } from '../../functions/events/app.ts';
import { createRescanApp } from '../../functions/rescan/app.ts';
import { createIngestPort } from '../../functions/rescan/ingest-port.ts';
import { type RescanResult, runRescan } from '../../functions/rescan/rescan-service.ts';
import { jobsRepository } from '../../shared/ingest/jobs-repository.ts';
import { minioBody, postEvent, putObject } from '../helpers/events.ts';
import { runPython } from '../helpers/h5py.ts';
import { killIngestMidCopy } from '../helpers/kill-mid-copy.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let db: pg.Client;
let files: string[];

/** `n` small distinct HDF5 files (values i, i+1, ...), written in one h5py call. */
function makeFiles(dir: string, n: number, rows = 3): string[] {
  runPython(
    `
import h5py, sys, numpy as np
d, n, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    with h5py.File(f'{d}/f{i}.h5', 'w') as f:
        f.create_dataset('v', data=np.arange(i, i + rows, dtype='<f8'))
`,
    [dir, String(n), String(rows)],
  );
  return Array.from({ length: n }, (_, i) => path.join(dir, `f${i}.h5`));
}

beforeAll(async () => {
  stack = await createTestStack({ SLUICE_LEASE_S: '2' });
  db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  files = makeFiles(stack.tmp, 20);
});
afterAll(async () => {
  await db.end();
  await stack.close();
});

/**
 * Runs a rescan. `minIngestMs` makes every ingest last at least that long (the real ingest, then a
 * wait), so a test of the time budget does not depend on how fast this machine ingests small files.
 */
const rescan = (opts: Parameters<typeof runRescan>[1] = {}, pageSize?: number, minIngestMs = 0) => {
  const port = createIngestPort(stack.services);
  const ingest: typeof port = {
    ...port,
    ingest: async (...args) => {
      const [result] = await Promise.all([
        port.ingest(...args),
        new Promise((r) => setTimeout(r, minIngestMs)),
      ]);
      return result;
    },
  };
  return runRescan(
    {
      pool: stack.services.db,
      s3: stack.services.s3.internal,
      bucket: stack.bucket,
      basePrefix: stack.config.s3.prefix,
      suffixes: stack.config.events.suffixes,
      ingest,
      log: stack.services.log,
      pageSize,
    },
    opts,
  );
};

const jobsFor = async (prefix: string) =>
  (
    await db.query(`SELECT key, status, attempts FROM ingest_jobs WHERE key LIKE $1 ORDER BY key`, [
      `${prefix}%`,
    ])
  ).rows;

describe('rescan', () => {
  it('ingests every object whose notification was dropped, exactly once; a second run ingests nothing', async () => {
    const app = createEventsApp(stack.services);
    const keys: string[] = [];
    for (const [i, f] of files.entries()) {
      const key = `drop/run-${String(i).padStart(2, '0')}.h5`;
      keys.push(key);
      const etag = await putObject(stack, key, f);
      // 30% of notifications never arrive.
      if (i % 10 >= 3) await postEvent(app, minioBody(stack.bucket, key, etag));
    }
    expect(await jobsFor('drop/')).toHaveLength(14);
    const first = await rescan({ prefix: 'drop/' });
    expect(first.status).toBe('completed');
    expect(first.run).toMatchObject({
      listed: 20,
      missing: 6,
      ingested: 6,
      failed: 0,
      fullPass: true,
    });
    const jobs = await jobsFor('drop/');
    expect(jobs).toHaveLength(20);
    expect(jobs.every((j) => j.status === 'done' && j.attempts === 1)).toBe(true);
    const second = await rescan({ prefix: 'drop/' });
    expect(second.run).toMatchObject({ listed: 20, missing: 0, ingested: 0 });
  });

  it('dry run reports what it would ingest without doing it', async () => {
    const etag = await putObject(stack, 'dry/one.h5', files[0] as string);
    expect(etag).toBeTruthy();
    const r = await rescan({ prefix: 'dry/', dryRun: true });
    expect(r.wouldIngest).toEqual(['dry/one.h5']);
    expect(r.run).toMatchObject({ missing: 1, ingested: 0, dryRun: true });
    expect(await jobsFor('dry/')).toHaveLength(0);
  });

  it('re-ingests an object re-uploaded with new content and replaces its table', async () => {
    await putObject(stack, 'reup/data.h5', files[1] as string);
    await rescan({ prefix: 'reup/' });
    expect(
      (await db.query('SELECT value FROM job_data ORDER BY value')).rows.map((r) => r.value),
    ).toEqual([1, 2, 3]);
    await putObject(stack, 'reup/data.h5', files[5] as string);
    const r = await rescan({ prefix: 'reup/' });
    expect(r.run).toMatchObject({ missing: 1, ingested: 1 });
    expect(
      (await db.query('SELECT value FROM job_data ORDER BY value')).rows.map((x) => x.value),
    ).toEqual([5, 6, 7]);
  });

  it('retries transient failures whose backoff elapsed, never permanent ones of the same version', async () => {
    const good = await putObject(stack, 'retry/ok.h5', files[2] as string);
    const bad = await putObject(stack, 'retry/bad.h5', new TextEncoder().encode('not hdf5'));
    await db.query(
      `INSERT INTO ingest_jobs (bucket, key, etag, status, failure_kind, attempts, next_attempt_at, error)
       VALUES ($1, 'retry/ok.h5', $2, 'failed', 'transient', 1, now() - interval '1 second', 'database unavailable')`,
      [stack.bucket, good],
    );
    await rescan({ prefix: 'retry/' });
    const jobs = await jobsFor('retry/');
    expect(jobs.find((j) => j.key === 'retry/ok.h5')).toMatchObject({
      status: 'done',
      attempts: 2,
    });
    expect(jobs.find((j) => j.key === 'retry/bad.h5')).toMatchObject({
      status: 'failed',
      attempts: 1,
    });
    await rescan({ prefix: 'retry/' });
    expect((await jobsFor('retry/')).find((j) => j.key === 'retry/bad.h5')?.attempts).toBe(1);
    expect(bad).toBeTruthy();
  });

  it('finishes an ingest whose process was killed mid-COPY, once the lease expires', async () => {
    const big = path.join(stack.tmp, 'big.h5');
    runPython(
      `
import h5py, sys, numpy as np
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('v', data=np.arange(1500000, dtype='<f8'), chunks=(65536,))
`,
      [big],
    );
    const etag = await putObject(stack, 'crash/big.h5', big);
    const killed = await killIngestMidCopy(stack, 'crash/big.h5', etag, 6);
    expect(killed).toEqual({ copying: true, signal: 'SIGKILL' });
    expect((await db.query(`SELECT to_regclass('job_big') AS t`)).rows[0].t).toBeNull();
    // Before the lease expires the job is left alone; afterwards the rescan reclaims and finishes it.
    const early = await rescan({ prefix: 'crash/' });
    expect(early.run, JSON.stringify(early.run)).toMatchObject({ reclaimed: 0, ingested: 0 });
    await new Promise((r) => setTimeout(r, 6500));
    const late = await rescan({ prefix: 'crash/' });
    expect(late.run).toMatchObject({ reclaimed: 1, ingested: 1 });
    expect((await db.query('SELECT count(*)::int AS n FROM job_big')).rows[0].n).toBe(1_500_000);
    expect(await jobsFor('crash/')).toEqual([{ key: 'crash/big.h5', status: 'done', attempts: 2 }]);
  }, 180_000);

  it('respects a time budget, saves a checkpoint, and repeated runs cover the whole bucket', async () => {
    for (const [i, f] of files.slice(0, 12).entries())
      await putObject(stack, `budget/k${String(i).padStart(2, '0')}.h5`, f);
    const results: RescanResult[] = [];
    for (let run = 0; run < 30; run++) {
      const r = await rescan({ prefix: 'budget/', maxSeconds: 0.4, concurrency: 1 }, 2, 80);
      results.push(r);
      if (r.status === 'completed') break;
    }
    const partials = results.filter((r) => r.status === 'partial');
    expect(partials.length).toBeGreaterThan(0);
    expect(partials[0]?.run?.checkpoint).toBeTruthy();
    expect(results.at(-1)?.status).toBe('completed');
    expect(results.at(-1)?.run?.checkpoint).toBeNull();
    const jobs = await jobsFor('budget/');
    expect(jobs).toHaveLength(12);
    expect(jobs.every((j) => j.status === 'done' && j.attempts === 1)).toBe(true);
    // After a full pass the next run starts over from the beginning.
    const again = await rescan({ prefix: 'budget/' }, 2);
    expect(again.run).toMatchObject({ listed: 12, missing: 0, resumedFrom: null });
  }, 120_000);

  it('shards the listing across first-level prefixes', async () => {
    for (const [i, f] of files.slice(0, 8).entries())
      await putObject(stack, `sharded/${['a', 'b', 'c'][i % 3]}/x${i}.h5`, f);
    await putObject(stack, 'sharded/loose.h5', files[9] as string);
    const r = await rescan({ prefix: 'sharded/', shards: 3 }, 2);
    expect(r.run).toMatchObject({ listed: 9, missing: 9, ingested: 9, fullPass: true });
  });

  it('single flight: a second invocation answers already_running', async () => {
    const holder = new pg.Client({ connectionString: stack.databaseUrl });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock(7310406)');
    expect((await rescan()).status).toBe('already_running');
    await holder.query('SELECT pg_advisory_unlock(7310406)');
    await holder.end();
    // Two real overlapping runs over objects that need ingesting.
    for (const [i, f] of files.slice(10, 16).entries())
      await putObject(stack, `flight/y${i}.h5`, f);
    const [a, b] = await Promise.all([
      rescan({ prefix: 'flight/', concurrency: 1 }),
      rescan({ prefix: 'flight/', concurrency: 1 }),
    ]);
    expect([a.status, b.status].sort()).toEqual(['already_running', 'completed']);
  });
});

describe('POST /rescan', () => {
  it('is token protected and accepts empty bodies, JSON options and CloudEvents from schedulers', async () => {
    const app = createRescanApp(stack.services);
    expect((await app.request('/rescan', { method: 'POST' })).status).toBe(401);
    expect(
      (await app.request('/rescan', { method: 'POST', headers: { authorization: 'Bearer wrong' } }))
        .status,
    ).toBe(401);
    const auth = { authorization: 'Bearer test-rescan-token' };
    const empty = await app.request('/rescan', { method: 'POST', headers: auth });
    expect(empty.status).toBe(200);
    expect(((await empty.json()) as RescanResult).run?.trigger).toBe('http');
    const ping = await app.request('/rescan?token=test-rescan-token', {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-type': 'dev.knative.sources.ping',
        'ce-source': 'ping',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ dryRun: true, prefix: 'drop/' }),
    });
    const pr = (await ping.json()) as RescanResult;
    expect(pr.run).toMatchObject({
      trigger: 'cloudevent:dev.knative.sources.ping',
      dryRun: true,
      listed: 20,
    });
    const structured = await app.request('/rescan', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({
        specversion: '1.0',
        type: 'cron',
        source: 's',
        id: '1',
        data: { dryRun: true, prefix: 'dry/' },
      }),
    });
    expect(((await structured.json()) as RescanResult).run).toMatchObject({
      trigger: 'cloudevent:cron',
      dryRun: true,
    });
    const bad = await app.request('/rescan', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ maxSeconds: -1, bogus: 1 }),
    });
    expect(bad.status).toBe(400);
    const msg = ((await bad.json()) as { message: string }).message;
    expect(msg).toContain('maxSeconds');
    const runs = await app.request('/api/v1/rescans?limit=3', { headers: auth });
    expect(((await runs.json()) as { runs: unknown[] }).runs).toHaveLength(3);
  });
});

describe('outcomes that are not done or failed (issue 19, item 9)', () => {
  it('keeps listing a shard when an ingest answers in_progress: 6 objects, page size 2, all listed', async () => {
    const prefix = 'race9/';
    const keys = [];
    for (let i = 0; i < 6; i++) {
      const key = `${prefix}o${i}.h5`;
      await putObject(stack, key, files[i] as string);
      keys.push(key);
    }
    const port = createIngestPort(stack.services);
    const raced = keys[1] as string;
    const outcomes: string[] = [];
    const result = await runRescan(
      {
        pool: stack.services.db,
        s3: stack.services.s3.internal,
        bucket: stack.bucket,
        basePrefix: prefix,
        suffixes: stack.config.events.suffixes,
        ingest: {
          ...port,
          ingest: async (bucket, o) => {
            // A webhook delivery of this object claims it between the rescan's diff and its ingest.
            if (o.key === raced)
              await jobsRepository(stack.services.db).claim(
                { bucket, key: o.key, etag: o.etag },
                'webhook-delivery',
                60,
              );
            const r = await port.ingest(bucket, o);
            outcomes.push(`${o.key}:${r.status}`);
            return r;
          },
        },
        log: stack.services.log,
        pageSize: 2,
      },
      {},
    );
    expect(outcomes).toContain(`${raced}:in_progress`);
    expect(result.status).toBe('completed');
    expect(result.run).toMatchObject({ listed: 6, missing: 6, ingested: 5 });
    const jobs = await jobsFor(prefix);
    expect(jobs.map((j) => j.status)).toEqual(['done', 'running', 'done', 'done', 'done', 'done']);
  });
});
