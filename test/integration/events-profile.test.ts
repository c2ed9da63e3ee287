import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventsApp } from '../../functions/events/app.ts';
import { minioBody, postEvent, putObject } from '../helpers/events.ts';
import { writeProfileFile } from '../helpers/h5py.ts';
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

describe('profile pipeline (Slurm acct_gather_profile files)', () => {
  it('joins series on ElapsedTime, interpolates gaps and derives energy figures', async () => {
    const file = path.join(stack.tmp, 'job_4242.h5');
    const epoch = 1_700_000_000;
    writeProfileFile(file, {
      node01: {
        // Power sampled every 10 s.
        Energy: {
          ElapsedTime: [0, 10, 20, 30],
          EpochTime: [0, 10, 20, 30].map((t) => epoch + t),
          Power: [100, 200, 200, 100],
          CPUFrequency: [2000, 2400, 2400, 2000],
        },
        // The task is sampled at 0, 15, 30: its values at 10 and 20 are interpolated, and 15 is a new row.
        'Tasks/0': {
          ElapsedTime: [0, 15, 30],
          EpochTime: [0, 15, 30].map((t) => epoch + t),
          CPUUtilization: [0, 90, 60],
          RSS: [1024, 4096, 2048],
        },
      },
    });
    const key = 'hpc/job_4242.h5';
    const etag = await putObject(stack, key, file);
    const res = await postEvent(
      createEventsApp(stack.services),
      minioBody(stack.bucket, key, etag),
    );
    const body = (await res.json()) as {
      results: { status: string; tables: string[]; reason?: string }[];
    };
    expect(body.results[0]?.status).toBe('done');
    expect(body.results[0]?.tables).toEqual(['job_job_4242']);

    const rows = (await db.query('SELECT * FROM job_job_4242 ORDER BY "ElapsedTime"')).rows;
    expect(rows.map((r) => r.ElapsedTime)).toEqual([0, 10, 15, 20, 30]);
    expect(Object.keys(rows[0])).toEqual(
      expect.arrayContaining([
        'node',
        'Energy__Power',
        'Energy__EpochTime',
        'Tasks_0__CPUUtilization',
        'Tasks_0__RSS',
        'Tasks_0__RSS_MB',
        'NodePower',
        'ElapsedTime_Diff',
        'Energy_Increment_J',
        'Energy_used_J',
      ]),
    );
    // Interpolation: power at 15 s lies between 200 and 200; CPU at 10 s is 2/3 of the way to 90.
    expect(rows[2].Energy__Power).toBe(200);
    expect(rows[1].Tasks_0__CPUUtilization).toBeCloseTo(60, 9);
    expect(rows[3].Tasks_0__CPUUtilization).toBeCloseTo(80, 9);
    expect(rows[2].Tasks_0__RSS_MB).toBe(4);
    // Hand-computed: diffs 0,10,5,5,10; power 100,200,200,200,100; increments 0,2000,1000,1000,1000.
    expect(rows.map((r) => r.ElapsedTime_Diff)).toEqual([0, 10, 5, 5, 10]);
    expect(rows.map((r) => r.Energy_Increment_J)).toEqual([0, 2000, 1000, 1000, 1000]);
    expect(rows.map((r) => r.Energy_used_J)).toEqual([0, 2000, 3000, 4000, 5000]);

    const summary = (
      await db.query('SELECT * FROM job_summaries WHERE table_name = $1', ['job_job_4242'])
    ).rows[0];
    expect(summary).toMatchObject({
      energy_to_solution_j: 5000,
      time_to_solution_s: 30,
      peak_power_w: 200,
      peak_power_time_s: 10,
      energy_delay_product: 150_000,
    });
    expect(summary.average_power_w).toBeCloseTo(5000 / 30, 9);
  });

  it('derives power from cumulative energy when no power column exists, and skips empty series', async () => {
    const file = path.join(stack.tmp, 'job_77.h5');
    writeProfileFile(file, {
      nodeA: {
        Energy: { ElapsedTime: [0, 5, 10], EpochTime: [1, 6, 11], Energy: [0, 1500, 2000] },
        'Tasks/1': { ElapsedTime: [], EpochTime: [], RSS: [] },
      },
    });
    const key = 'hpc/job_77.h5';
    const etag = await putObject(stack, key, file);
    const res = await postEvent(
      createEventsApp(stack.services),
      minioBody(stack.bucket, key, etag),
    );
    const body = (await res.json()) as { results: { status: string; jobId: number }[] };
    expect(body.results[0]?.status).toBe('done');
    const rows = (
      await db.query(
        'SELECT "NodePower", "Energy_used_J", "Energy_Increment_J" FROM job_job_77 ORDER BY "ElapsedTime"',
      )
    ).rows;
    expect(rows.map((r) => r.Energy_used_J)).toEqual([0, 1500, 2000]);
    expect(rows.map((r) => r.Energy_Increment_J)).toEqual([0, 1500, 500]);
    expect(rows.map((r) => r.NodePower)).toEqual([0, 300, 100]);
    const s = (await db.query('SELECT * FROM job_summaries WHERE table_name = $1', ['job_job_77']))
      .rows[0];
    expect(s).toMatchObject({
      energy_to_solution_j: 2000,
      time_to_solution_s: 10,
      peak_power_w: 300,
      peak_power_time_s: 5,
    });
    const cat = await db.query('SELECT skipped FROM ingest_catalog WHERE job_id = $1', [
      body.results[0]?.jobId,
    ]);
    expect(JSON.stringify(cat.rows[0].skipped)).toContain('/nodeA/Tasks/1');
  });
});
