import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readdir } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventsApp } from '../../functions/events/app.ts';
import { defaultMigrationsDir, migrate } from '../../shared/db/migrate.ts';
import { claimTableName, isReservedTableName } from '../../shared/ingest/table-names.ts';
import { minioBody, postEvent, putObject } from '../helpers/events.ts';
import { runPython, writeProfileFile } from '../helpers/h5py.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let db: pg.Client;
beforeAll(async () => {
  stack = await createTestStack();
  db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db.end();
  await stack.close();
});

const hash8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

async function ingestFile(file: string, key: string) {
  const etag = await putObject(stack, key, file);
  const res = await postEvent(createEventsApp(stack.services), minioBody(stack.bucket, key, etag));
  return (
    (await res.json()) as { results: { status: string; tables?: string[]; reason?: string }[] }
  ).results[0];
}

const systemSummaryColumns = async (client: pg.Client) =>
  (
    await client.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'job_summaries'`,
    )
  ).rows.map((r) => r.column_name);

describe("user tables never take Sluice's own table names", () => {
  it('an object named summaries.h5 gets job_summaries_<hash>; job_summaries and profile ingests survive', async () => {
    const file = path.join(stack.tmp, 'summaries.h5');
    runPython(
      `import h5py, sys, numpy as np
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('values', data=np.arange(4, dtype='<i4'))`,
      [file],
    );
    const r = await ingestFile(file, 'lab/summaries.h5');
    expect(r?.status).toBe('done');
    expect(r?.tables).toEqual([`job_summaries_${hash8(`${stack.bucket}/lab/summaries.h5`)}`]);
    expect(await systemSummaryColumns(db)).toContain('energy_to_solution_j');
    const prof = path.join(stack.tmp, 'run_7.h5');
    writeProfileFile(prof, {
      n1: {
        Energy: { ElapsedTime: [0, 10], EpochTime: [1, 11], Power: [100, 100] },
        'Tasks/0': { ElapsedTime: [0, 10], EpochTime: [1, 11], CPUUtilization: [5, 6] },
      },
    });
    expect((await ingestFile(prof, 'hpc/run_7.h5'))?.status).toBe('done');
    const s = await db.query('SELECT count(*)::int AS n FROM job_summaries WHERE key = $1', [
      'hpc/run_7.h5',
    ]);
    expect(s.rows[0].n).toBeGreaterThan(0);
  });

  it('claims for generated keys are valid, distinct, stable, never reserved, never an existing table', async () => {
    await db.query('CREATE TABLE IF NOT EXISTS job_handmade (x int)');
    const client = await stack.services.db.connect();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(
            fc.oneof(
              // Any key Postgres can store in a text column (no NUL, no lone surrogates).
              fc
                .string({ unit: 'binary', maxLength: 90 })
                .map((k) => k.replaceAll('\0', ''))
                .filter((k) => Buffer.from(k, 'utf8').toString('utf8') === k),
              fc.constantFrom(
                'summaries.h5',
                'a/summaries.h5',
                'handmade.h5',
                'SUMMARIES',
                'x/handmade',
              ),
            ),
            { minLength: 1, maxLength: 12 },
          ),
          async (keys) => {
            await client.query('BEGIN');
            try {
              const names = [];
              for (const key of keys)
                names.push(await claimTableName(client, { bucket: 'b', key }));
              const again = [];
              for (const key of keys)
                again.push(await claimTableName(client, { bucket: 'b', key }));
              expect(again).toEqual(names);
              expect(new Set(names).size).toBe(keys.length);
              for (const n of names) {
                expect(n).toMatch(/^job_[a-z0-9_]*$/);
                expect(Buffer.byteLength(n)).toBeLessThanOrEqual(63);
                expect(isReservedTableName(n)).toBe(false);
                expect(n).not.toBe('job_handmade');
              }
            } finally {
              await client.query('ROLLBACK');
            }
          },
        ),
        { numRuns: 60 },
      );
    } finally {
      client.release();
    }
  });

  it('migration 060 repairs a database where summaries.h5 had replaced job_summaries', async () => {
    const admin = new pg.Client({ connectionString: stack.databaseUrl });
    await admin.connect();
    const name = `${stack.database}_m060`;
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const pool = new pg.Pool({
      connectionString: stack.databaseUrl.replace(/\/[^/]*$/, `/${name}`),
    });
    const c = new pg.Client({
      connectionString: stack.databaseUrl.replace(/\/[^/]*$/, `/${name}`),
    });
    await c.connect();
    try {
      // The database as it was before 060, broken the way the old code broke it.
      const old = await mkdtemp(path.join(stack.tmp, 'mig-'));
      for (const f of await readdir(defaultMigrationsDir()))
        if (/^0[0-5]\d-.*\.sql$/.test(f))
          await copyFile(path.join(defaultMigrationsDir(), f), path.join(old, f));
      await migrate(pool, old);
      const job = await c.query(
        `INSERT INTO ingest_jobs (bucket, key, etag, status, tables)
         VALUES ('lab', 'x/summaries.h5', 'e1', 'done', '[{"table": "job_summaries", "datasetPath": "/", "rows": 2}]')
         RETURNING id`,
      );
      await c.query(
        `INSERT INTO ingest_table_names (table_name, bucket, key) VALUES ('job_summaries', 'lab', 'x/summaries.h5')`,
      );
      await c.query(
        `INSERT INTO ingest_catalog (job_id, dataset_path, table_name, rows, columns) VALUES ($1, '/', 'job_summaries', 2, '[]')`,
        [job.rows[0].id],
      );
      await c.query('DROP TABLE job_summaries');
      await c.query('CREATE TABLE job_summaries (value integer)');
      await c.query('INSERT INTO job_summaries VALUES (7), (8)');

      expect(await migrate(pool)).toContain('060-reserved-table-names.sql');
      const fresh = `job_summaries_${hash8('lab/x/summaries.h5')}`;
      expect((await c.query(`SELECT value FROM ${fresh} ORDER BY value`)).rows).toEqual([
        { value: 7 },
        { value: 8 },
      ]);
      expect(await systemSummaryColumns(c)).toContain('energy_to_solution_j');
      expect((await c.query('SELECT table_name FROM ingest_table_names')).rows).toEqual([
        { table_name: fresh },
      ]);
      expect((await c.query('SELECT table_name FROM ingest_catalog')).rows).toEqual([
        { table_name: fresh },
      ]);
      expect((await c.query('SELECT tables FROM ingest_jobs')).rows[0].tables).toEqual([
        { table: fresh, datasetPath: '/', rows: 2 },
      ]);
    } finally {
      await c.end();
      await pool.end();
      const drop = new pg.Client({ connectionString: stack.databaseUrl });
      await drop.connect();
      await drop.query(`DROP DATABASE IF EXISTS ${name}`);
      await drop.end();
    }
  });
});
