import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventsApp } from '../../functions/events/app.ts';
import { silentLogger } from '../../shared/log/logger.ts';
import { createServices } from '../../shared/services.ts';
import { minioBody, postEvent, putObject } from '../helpers/events.ts';
import { runPython } from '../helpers/h5py.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let app: ReturnType<typeof createEventsApp>;
let db: pg.Client;

beforeAll(async () => {
  stack = await createTestStack({ MINIO_OBJECT_PREFIX: 'uploads/' });
  app = createEventsApp(stack.services);
  db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db.end();
  await stack.close();
});

/** A one-dataset file whose values are `values`. */
function smallFile(name: string, values: number[]): string {
  const file = path.join(stack.tmp, name);
  runPython(
    `
import h5py, sys, json, numpy as np
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('v', data=np.array(json.loads(sys.argv[2]), dtype='<f8'))
`,
    [file, JSON.stringify(values)],
  );
  return file;
}

type Body = {
  status: string;
  reason?: string;
  results: { status: string; tables?: string[]; reason?: string; jobId?: number }[];
};
const json = async (r: Response) => (await r.json()) as Body;

describe('webhook protocol', () => {
  it('answers MinIO liveness HEAD with 200 and refuses missing or wrong tokens with 401', async () => {
    expect((await app.request('/minio-event', { method: 'HEAD' })).status).toBe(200);
    const body = minioBody(stack.bucket, 'uploads/a/x.h5', 'e');
    const none = await app.request('/minio-event', {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    expect(none.status).toBe(401);
    const wrong = await postEvent(app, body, 'not-the-token');
    expect(wrong.status).toBe(401);
    expect((await wrong.json()) as object).toMatchObject({
      code: 'UNAUTHORIZED',
      details: { reason: 'bad_token' },
    });
  });

  it('refuses every call when no webhook token is configured', async () => {
    const config = { ...stack.config, events: { ...stack.config.events, webhookToken: undefined } };
    const open = createEventsApp(
      createServices(config, { log: silentLogger, db: stack.services.db, s3: stack.services.s3 }),
    );
    expect((await postEvent(open, minioBody(stack.bucket, 'uploads/a/x.h5', 'e'))).status).toBe(
      401,
    );
  });

  it('answers 2xx "ignored" for other buckets, prefixes and suffixes, and for non-object events', async () => {
    const other = await json(
      await postEvent(app, minioBody('other-bucket', 'uploads/a/x.h5', 'e')),
    );
    expect(other.results[0]).toMatchObject({
      status: 'ignored',
      reason: expect.stringContaining("bucket 'other-bucket'"),
    });
    const outside = await json(
      await postEvent(app, minioBody(stack.bucket, 'elsewhere/x.h5', 'e')),
    );
    expect(outside.results[0]?.reason).toContain("outside prefix 'uploads/'");
    const suffix = await json(
      await postEvent(app, minioBody(stack.bucket, 'uploads/a/readme.txt', 'e')),
    );
    expect(suffix.results[0]?.reason).toContain('suffix');
    const head = await postEvent(
      app,
      minioBody(stack.bucket, 'uploads/a/x.h5', 'e', 's3:ObjectAccessed:Head'),
    );
    expect(head.status).toBe(200);
    expect((await json(head)).status).toBe('ignored');
    const notJson = await app.request('/minio-event', {
      method: 'POST',
      body: '{oops',
      headers: { authorization: 'Bearer test-webhook-token' },
    });
    expect(notJson.status).toBe(200);
  });

  it('decodes "+" and spaces in keys exactly as MinIO encodes them', async () => {
    const key = 'uploads/amick/Tile_+002 run.h5';
    const etag = await putObject(stack, key, smallFile('plus.h5', [1, 2, 3]));
    const r = await json(await postEvent(app, minioBody(stack.bucket, key, etag)));
    expect(r.results[0]?.status).toBe('done');
    const job = await db.query('SELECT key FROM ingest_jobs WHERE id = $1', [r.results[0]?.jobId]);
    expect(job.rows[0].key).toBe(key);
    expect(r.results[0]?.tables).toEqual(['job_tile_002_run']);
  });

  it('gives two keys with the same stem different tables, deterministically, and records the mapping', async () => {
    const a = await putObject(stack, 'uploads/amick/run/data.h5', smallFile('d1.h5', [1]));
    const b = await putObject(stack, 'uploads/sam/run/data.h5', smallFile('d2.h5', [2, 2]));
    const ra = await json(
      await postEvent(app, minioBody(stack.bucket, 'uploads/amick/run/data.h5', a)),
    );
    const rb = await json(
      await postEvent(app, minioBody(stack.bucket, 'uploads/sam/run/data.h5', b)),
    );
    expect(ra.results[0]?.tables).toEqual(['job_data']);
    expect(rb.results[0]?.tables?.[0]).toMatch(/^job_data_[0-9a-f]{8}$/);
    expect((await db.query('SELECT count(*)::int AS n FROM job_data')).rows[0].n).toBe(1);
    expect(
      (await db.query(`SELECT count(*)::int AS n FROM "${rb.results[0]?.tables?.[0]}"`)).rows[0].n,
    ).toBe(2);
    const map = await db.query('SELECT key FROM ingest_table_names WHERE table_name = $1', [
      rb.results[0]?.tables?.[0],
    ]);
    expect(map.rows[0].key).toBe('uploads/sam/run/data.h5');
  });

  it('fits long stems into 63 bytes with a hash suffix and quotes hostile names', async () => {
    const key = `uploads/amick/${'Very Long Name '.repeat(8)}"; DROP TABLE ingest_jobs; --.h5`;
    const etag = await putObject(stack, key, smallFile('long.h5', [5]));
    const r = await json(await postEvent(app, minioBody(stack.bucket, key, etag)));
    const table = r.results[0]?.tables?.[0] as string;
    expect(Buffer.byteLength(table)).toBeLessThanOrEqual(63);
    expect(table).toMatch(/^job_very_long_name_[a-z0-9_]+_[0-9a-f]{8}$/);
    expect(
      (await db.query('SELECT count(*)::int AS n FROM ingest_jobs')).rows[0].n,
    ).toBeGreaterThan(0);
  });

  it('replaces the table when the same key is re-uploaded with new content', async () => {
    const key = 'uploads/amick/replace.h5';
    const v1 = await putObject(stack, key, smallFile('r1.h5', [1, 1]));
    await postEvent(app, minioBody(stack.bucket, key, v1));
    const v2 = await putObject(stack, key, smallFile('r2.h5', [7, 8, 9]));
    const r = await json(await postEvent(app, minioBody(stack.bucket, key, v2)));
    expect(r.results[0]?.status).toBe('done');
    const rows = await db.query('SELECT value FROM job_replace ORDER BY value');
    expect(rows.rows.map((x) => x.value)).toEqual([7, 8, 9]);
    // A late redelivery of the old version does not bring the old data back.
    const old = await json(await postEvent(app, minioBody(stack.bucket, key, v1)));
    expect(old.results[0]?.status).toBe('duplicate');
  });

  it('marks jobs source_deleted on delete events and keeps the table unless dropping is enabled', async () => {
    const key = 'uploads/amick/gone.h5';
    const etag = await putObject(stack, key, smallFile('gone.h5', [1]));
    await postEvent(app, minioBody(stack.bucket, key, etag));
    const del = await json(
      await postEvent(app, minioBody(stack.bucket, key, '', 's3:ObjectRemoved:Delete')),
    );
    expect(del.results[0]).toMatchObject({ status: 'source_deleted', tables: ['job_gone'] });
    expect(
      (await db.query(`SELECT status FROM ingest_jobs WHERE key = $1`, [key])).rows[0].status,
    ).toBe('source_deleted');
    expect((await db.query(`SELECT to_regclass('job_gone') AS t`)).rows[0].t).not.toBeNull();

    const dropping = createEventsApp(
      createServices(
        { ...stack.config, events: { ...stack.config.events, dropOnDelete: true } },
        { log: silentLogger, db: stack.services.db, s3: stack.services.s3 },
      ),
    );
    await postEvent(dropping, minioBody(stack.bucket, key, '', 's3:ObjectRemoved:Delete'));
    expect((await db.query(`SELECT to_regclass('job_gone') AS t`)).rows[0].t).toBeNull();
  });

  it('answers 429 with Retry-After above the concurrent-ingest limit', async () => {
    const config = { ...stack.config, events: { ...stack.config.events, maxConcurrent: 1 } };
    const limited = createEventsApp(
      createServices(config, { log: silentLogger, db: stack.services.db, s3: stack.services.s3 }),
    );
    const file = path.join(stack.tmp, 'slow.h5');
    runPython(
      `
import h5py, sys, numpy as np
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('v', data=np.arange(400000, dtype='<f8'))
`,
      [file],
    );
    const t1 = await putObject(stack, 'uploads/amick/slow1.h5', file);
    const t2 = await putObject(stack, 'uploads/amick/slow2.h5', file);
    const [r1, r2] = await Promise.all([
      postEvent(limited, minioBody(stack.bucket, 'uploads/amick/slow1.h5', t1)),
      postEvent(limited, minioBody(stack.bucket, 'uploads/amick/slow2.h5', t2)),
    ]);
    const statuses = [r1.status, r2.status].sort();
    expect(statuses).toEqual([200, 429]);
    const rejected = r1.status === 429 ? r1 : r2;
    expect(rejected.headers.get('retry-after')).toBe('5');
  });
});

describe('GET /api/v1/ingests', () => {
  it('shows users the jobs under their own folder and admins all of them', async () => {
    const amick = await stack.token('amick');
    const sam = await stack.token('sam');
    const admin = await stack.token('boss', ['admin']);
    const list = async (token: string, q = '') => {
      const r = await app.request(`/api/v1/ingests${q}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      return (await r.json()) as { jobs: { id: number; key: string }[]; nextCursor: number | null };
    };
    const mine = await list(amick);
    expect(mine.jobs.length).toBeGreaterThan(0);
    expect(mine.jobs.every((j) => j.key.startsWith('uploads/amick/'))).toBe(true);
    const all = await list(admin);
    expect(all.jobs.some((j) => j.key.startsWith('uploads/sam/'))).toBe(true);
    const page = await list(admin, '?limit=2');
    expect(page.jobs).toHaveLength(2);
    const next = await list(admin, `?limit=2&cursor=${page.nextCursor}`);
    expect(next.jobs[0]?.id).toBeLessThan(page.jobs[1]?.id as number);

    const samJob = all.jobs.find((j) => j.key.startsWith('uploads/sam/')) as { id: number };
    const forbidden = await app.request(`/api/v1/ingests/${samJob.id}`, {
      headers: { authorization: `Bearer ${amick}` },
    });
    expect(forbidden.status).toBe(404);
    const own = await app.request(`/api/v1/ingests/${samJob.id}`, {
      headers: { authorization: `Bearer ${sam}` },
    });
    expect(own.status).toBe(200);
    expect((await app.request('/api/v1/ingests')).status).toBe(401);
    const bad = await app.request('/api/v1/ingests?status=bogus', {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain('status');
  });
});

describe('re-upload after a delete (issue 19, item 8)', () => {
  it('the same content uploaded again after a delete is ingested again, not failed on the catalog key', async () => {
    const key = 'uploads/amick/again.h5';
    const file = smallFile('again.h5', [1, 2, 3]);
    const etag = await putObject(stack, key, file);
    expect(
      (await json(await postEvent(app, minioBody(stack.bucket, key, etag)))).results[0],
    ).toMatchObject({ status: 'done' });
    const dropping = createEventsApp(
      createServices(
        { ...stack.config, events: { ...stack.config.events, dropOnDelete: true } },
        { log: silentLogger, db: stack.services.db, s3: stack.services.s3 },
      ),
    );
    await postEvent(dropping, minioBody(stack.bucket, key, '', 's3:ObjectRemoved:Delete'));
    // Identical bytes give the identical ETag: the same job is claimed again.
    expect(await putObject(stack, key, file)).toBe(etag);
    const again = await json(await postEvent(app, minioBody(stack.bucket, key, etag)));
    expect(again.results[0]).toMatchObject({ status: 'done', tables: ['job_again'] });
    const job = (
      await db.query(`SELECT id, status, attempts, error FROM ingest_jobs WHERE key = $1`, [key])
    ).rows;
    expect(job).toHaveLength(1);
    expect(job[0]).toMatchObject({ status: 'done', attempts: 2, error: null });
    const catalog = await db.query(
      `SELECT table_name, rows FROM ingest_catalog WHERE job_id = $1`,
      [job[0].id],
    );
    expect(catalog.rows).toEqual([{ table_name: 'job_again', rows: 3 }]);
    expect((await db.query('SELECT count(*)::int AS n FROM job_again')).rows[0].n).toBe(3);
  });
});

describe('webhook bounds (issue 19, item 14)', () => {
  it('caps the records one delivery ingests; redeliveries finish the rest without repeating work', async () => {
    const capped = createEventsApp(
      createServices(
        { ...stack.config, events: { ...stack.config.events, maxEventsPerDelivery: 2 } },
        { log: silentLogger, db: stack.services.db, s3: stack.services.s3 },
      ),
    );
    const file = smallFile('capped.h5', [7]);
    const records = [];
    for (let i = 0; i < 5; i++) {
      const key = `uploads/amick/capped-${i}.h5`;
      records.push(...minioBody(stack.bucket, key, await putObject(stack, key, file)).Records);
    }
    const body = { Records: records };
    const first = await postEvent(capped, body);
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('1');
    const err = (await first.json()) as { code: string; details: { remaining: number } };
    expect(err.code).toBe('DELIVERY_CAPPED');
    expect(err.details.remaining).toBe(3);
    const jobs = async () =>
      (
        await db.query(
          `SELECT key, status, attempts FROM ingest_jobs WHERE key LIKE 'uploads/amick/capped-%' ORDER BY key`,
        )
      ).rows;
    expect(await jobs()).toHaveLength(2);
    // The sender redelivers the whole body: the first two are duplicates, two more are ingested.
    expect((await postEvent(capped, body)).status).toBe(503);
    const last = await postEvent(capped, body);
    expect(last.status).toBe(200);
    const done = (await last.json()) as Body;
    expect(done.results.map((r) => r.status)).toEqual([
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
      'done',
    ]);
    const all = await jobs();
    expect(all).toHaveLength(5);
    expect(all.every((j) => j.status === 'done' && j.attempts === 1)).toBe(true);
  });

  it('refuses keys with .. and other non-canonical segments as ignored, with the reason, never claimed', async () => {
    const hostile = [
      ['uploads/alice/../../etc/passwd.h5', "'..' segment"],
      ['uploads/alice/./x.h5', "'.' segment"],
      ['uploads/alice//x.h5', 'empty segment'],
      ['uploads/alice\\..\\x.h5', 'backslash'],
      ['uploads/alice/\u0001x.h5', 'control character'],
    ] as const;
    for (const [key, why] of hostile) {
      const res = await json(await postEvent(app, minioBody(stack.bucket, key, 'abc')));
      expect(res.results[0]).toMatchObject({ status: 'ignored' });
      expect(res.results[0]?.reason).toContain(why);
    }
    const claimed = await db.query(
      `SELECT count(*)::int AS n FROM ingest_jobs WHERE key = ANY($1::text[])`,
      [hostile.map(([k]) => k)],
    );
    expect(claimed.rows[0].n).toBe(0);
  });
});
