import { copyFile, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createEventsApp } from '../../functions/events/app.ts';
import { createApp } from '../../functions/registry.ts';
import { defaultMigrationsDir, migrate } from '../../shared/db/migrate.ts';
import { minioBody, postEvent, putObject } from '../helpers/events.ts';
import { runPython, writeProfileFile } from '../helpers/h5py.ts';
import { sh5utilMerge } from '../helpers/sh5util.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

// The real Slurm files of test/fixtures/slurm, checked against the original pipeline's figures
// (test/fixtures/INDEX.md, section 5). Watts and seconds are integers there, so the energy figures are
// exact sums of integers: the tolerance is 1e-6 J (float rounding only), not a percentage.
const TOL = 1e-6;
const fixture = (name: string) => path.resolve('test/fixtures/slurm', name);
const C0107 = fixture('mak8427_9646276_batch_c0107.h5');
const C0103 = fixture('mak8427_9799476_batch_c0103.h5');

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
      await db.query("SELECT * FROM job_summaries WHERE table_name = $1 AND scope = 'job'", [
        'job_job_4242',
      ])
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
    const s = (
      await db.query("SELECT * FROM job_summaries WHERE table_name = $1 AND scope = 'job'", [
        'job_job_77',
      ])
    ).rows[0];
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

interface Ingested {
  status: string;
  jobId: number;
  tables: string[];
  reason?: string;
}

/** Puts a file in the bucket and ingests it through the real webhook path. */
async function ingest(key: string, file: string): Promise<Ingested> {
  const etag = await putObject(stack, key, file);
  const res = await postEvent(createEventsApp(stack.services), minioBody(stack.bucket, key, etag));
  const body = (await res.json()) as { results: Ingested[] };
  const result = body.results[0] as Ingested;
  expect(result.status, result.reason).toBe('done');
  return result;
}

async function summaries(table: string) {
  return (
    await db.query(
      `SELECT scope, step, node, nodes, energy_to_solution_j AS energy, time_to_solution_s AS time,
         average_power_w AS avg, peak_power_w AS peak, peak_power_time_s AS peak_t,
         energy_delay_product AS edp, energy_reason AS reason, rows::int AS rows
       FROM job_summaries WHERE table_name = $1 ORDER BY step NULLS FIRST, scope, node`,
      [table],
    )
  ).rows;
}

async function skippedOf(jobId: number): Promise<{ path: string; reason: string }[]> {
  const r = await db.query('SELECT skipped FROM ingest_catalog WHERE job_id = $1', [jobId]);
  return r.rows.flatMap((x) => x.skipped);
}

describe('real Slurm profiles: the original pipeline figures', () => {
  it('c0107 per-node file: 18,996 J over 63 s, peak 312 W at 19 s', async () => {
    const r = await ingest('hpc/9646276_batch_c0107.h5', C0107);
    const [job, node] = await summaries(r.tables[0] as string);
    expect(job).toMatchObject({ scope: 'job', step: null, node: 'c0107', nodes: 1, time: 63 });
    expect(node).toMatchObject({ scope: 'node', step: null, node: 'c0107', time: 63 });
    for (const s of [job, node]) {
      expect(Math.abs(s.energy - 18_996)).toBeLessThan(TOL);
      expect(s).toMatchObject({ peak: 312, peak_t: 19, reason: null });
      expect(s.avg).toBeCloseTo(18_996 / 63, 9);
      expect(Math.abs(s.edp - 18_996 * 63)).toBeLessThan(TOL * 63);
    }
  });

  it('c0103: no energy after the last power sample (42,764 J, not 43,644 J)', async () => {
    const r = await ingest('hpc/9799476_batch_c0103.h5', C0103);
    const table = r.tables[0] as string;
    const [job] = await summaries(table);
    expect(Math.abs(job.energy - 42_764)).toBeLessThan(TOL);
    // Time to solution is still the last sample of any series (the task at 105 s); average power
    // and the energy-delay product follow from the energy.
    expect(job.time).toBe(105);
    expect(job.avg).toBeCloseTo(42_764 / 105, 9);
    expect(Math.abs(job.edp - 42_764 * 105)).toBeLessThan(TOL * 105);
    const tail = (
      await db.query(
        `SELECT "ElapsedTime" AS t, "NodePower" AS p, "Energy_Increment_J" AS inc, "Energy_used_J" AS used
         FROM ${table} WHERE "ElapsedTime" >= 103 ORDER BY 1`,
      )
    ).rows;
    expect(tail).toEqual([
      { t: 103, p: 440, inc: 440, used: 42_764 },
      { t: 105, p: null, inc: null, used: null },
    ]);
    const max = await db.query(`SELECT max("Energy_used_J") AS m FROM ${table}`);
    expect(max.rows[0].m).toBe(42_764);
  });

  it("sh5util's job file of c0107 gives the per-node figures, with its step", async () => {
    const r = await ingest('hpc/sh5util_job_9646276.h5', fixture('sh5util_job_9646276.h5'));
    const table = r.tables[0] as string;
    const rows = await summaries(table);
    expect(rows.map((s) => [s.scope, s.step, s.node])).toEqual([
      ['job', 'batch', 'c0107'],
      ['node', 'batch', 'c0107'],
    ]);
    expect(Math.abs((rows[0]?.energy as number) - 18_996)).toBeLessThan(TOL);
    expect(rows[0]).toMatchObject({ time: 63, peak: 312, peak_t: 19 });
    const nodes = await db.query(`SELECT DISTINCT step, node FROM ${table}`);
    expect(nodes.rows).toEqual([{ step: 'batch', node: 'c0107' }]);
    expect(await skippedOf(r.jobId)).toEqual([]);
  });
});

describe('sh5util merges: per step, per node, per job', () => {
  let table: string;
  let jobId: number;
  beforeAll(async () => {
    const out = path.join(stack.tmp, 'job_77.h5');
    // Step batch ran on c0103 and c0107; step 0 on c0107 only.
    await sh5utilMerge(
      77,
      [
        { file: C0103, step: 'batch', node: 'c0103' },
        { file: C0107, step: 'batch', node: 'c0107' },
        { file: C0107, step: '0', node: 'c0107' },
      ],
      out,
    );
    const r = await ingest('hpc/job_77.h5', out);
    table = r.tables[0] as string;
    jobId = r.jobId;
  });

  it('a 2-node step sums energy over nodes (18,996 + 42,764 J), takes the longest node', async () => {
    const batch = (await summaries(table)).filter((s) => s.step === 'batch');
    expect(batch.map((s) => [s.scope, s.node])).toEqual([
      ['job', 'c0103,c0107'],
      ['node', 'c0103'],
      ['node', 'c0107'],
    ]);
    const [job, c0103, c0107] = batch;
    expect(Math.abs(c0103.energy - 42_764)).toBeLessThan(TOL);
    expect(Math.abs(c0107.energy - 18_996)).toBeLessThan(TOL);
    expect(Math.abs(job.energy - (42_764 + 18_996))).toBeLessThan(TOL);
    expect(job).toMatchObject({ nodes: 2, time: 105, reason: null });
    expect(job.avg).toBeCloseTo((42_764 + 18_996) / 105, 9);
    expect(job.rows).toBe(c0103.rows + c0107.rows);
    // Peak of the summed power, computed here independently with numpy: each node's power
    // interpolated on the union of sample times (last reading of a duplicated time), 0 outside its span.
    const [peak, peakT] = JSON.parse(
      runPython(
        `
import h5py, json, sys, numpy as np
curves = []
for f, n in ((sys.argv[1], 'c0103'), (sys.argv[2], 'c0107')):
    e = h5py.File(f)[n]['Energy'][:]
    last = {int(t): float(p) for t, p in zip(e['ElapsedTime'], e['NodePower'])}
    ts = np.array(sorted(last)); ps = np.array([last[t] for t in ts])
    curves.append((ts, ps))
grid = np.unique(np.concatenate([c[0] for c in curves]))
total = sum(np.where((grid >= ts[0]) & (grid <= ts[-1]), np.interp(grid, ts, ps), 0) for ts, ps in curves)
i = int(np.argmax(total))
print(json.dumps([float(total[i]), float(grid[i])]))
`,
        [C0103, C0107],
      ),
    ) as [number, number];
    expect(peak).toBeGreaterThan(440);
    expect(job.peak).toBeCloseTo(peak, 9);
    expect(job.peak_t).toBe(peakT);
  });

  it('steps are reported separately, never summed together', async () => {
    const jobs = (await summaries(table)).filter((s) => s.scope === 'job');
    expect(jobs.map((s) => [s.step, s.node])).toEqual([
      ['0', 'c0107'],
      ['batch', 'c0103,c0107'],
    ]);
    expect(Math.abs(jobs[0].energy - 18_996)).toBeLessThan(TOL);
    const perStep = (
      await db.query(
        `SELECT step, node, count(*)::int AS n, max("Energy_used_J") AS e FROM ${table}
         GROUP BY 1, 2 ORDER BY 1, 2`,
      )
    ).rows;
    // Rows: distinct ElapsedTime of all series of the node (c0103: 93 power times + tasks at 1, 90, 105).
    expect(perStep).toEqual([
      { step: '0', node: 'c0107', n: 64, e: 18_996 },
      { step: 'batch', node: 'c0103', n: 96, e: 42_764 },
      { step: 'batch', node: 'c0107', n: 64, e: 18_996 },
    ]);
    expect(await skippedOf(jobId)).toEqual([]);
  });
  it('the ingest API and the status page show the figures per step and node', async () => {
    const app = createApp('all', stack.services);
    const admin = await stack.token('root', ['admin']);
    const res = await app.request(`/api/v1/ingests/${jobId}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(res.status).toBe(200);
    const job = (await res.json()) as { summaries: Record<string, unknown>[] };
    expect(job.summaries.map((s) => [s.scope, s.step, s.node, s.nodes])).toEqual([
      ['job', '0', 'c0107', 1],
      ['node', '0', 'c0107', 1],
      ['job', 'batch', 'c0103,c0107', 2],
      ['node', 'batch', 'c0103', 1],
      ['node', 'batch', 'c0107', 1],
    ]);
    expect(job.summaries[2]).toMatchObject({
      table,
      energyJ: 61_760,
      timeS: 105,
      energyReason: null,
    });
    const html = await (await app.request(`/ui?token=${admin}`)).text();
    expect(html).toMatch(/<td>batch<\/td><td>c0103,c0107<\/td><td>61760 J<\/td><td>105 s<\/td>/);
  });
});

describe('profiles without energy, and Slurm NO_VAL', () => {
  it('a task-only job file writes its task summary with energy unknown and the reason', async () => {
    const r = await ingest('hpc/job_11211998.h5', fixture('flee598_job_11211998.h5'));
    const table = r.tables[0] as string;
    const rows = await summaries(table);
    expect(rows.map((s) => [s.scope, s.step, s.node])).toEqual([
      ['job', '0', 'wbn125'],
      ['node', '0', 'wbn125'],
      ['job', 'batch', 'wbn125'],
      ['node', 'batch', 'wbn125'],
    ]);
    for (const s of rows) {
      expect(s).toMatchObject({
        time: 11_040,
        rows: 369,
        energy: null,
        avg: null,
        peak: null,
        peak_t: null,
        edp: null,
        reason: 'no power or energy column found',
      });
    }
    const figures = await db.query(
      `SELECT count(*)::int AS n, count("NodePower")::int AS p, count("Energy_used_J")::int AS e,
         count("Energy_Increment_J")::int AS i, count("Tasks_0__RSS_MB")::int AS rss FROM ${table}`,
    );
    expect(figures.rows[0]).toEqual({ n: 738, p: 0, e: 0, i: 0, rss: 738 });
  });

  it('names every series a job file does not read, and leaves a step with a node lacking energy unknown', async () => {
    const file = path.join(stack.tmp, 'job_88.h5');
    runPython(
      `
import h5py, sys, numpy as np
def series(fields, rows):
    dt = np.dtype([('ElapsedTime', '<u8'), ('EpochTime', '<u8')] + [(f, '<f8') for f in fields])
    d = np.zeros(len(rows), dtype=dt)
    for i, r in enumerate(rows): d[i] = r
    return d
with h5py.File(sys.argv[1], 'w') as f:
    n1 = f.create_group('Steps/batch/Nodes/n1')
    n1.create_dataset('Energy', data=series(['Power'], [(0, 0, 100), (10, 10, 100)]), maxshape=(None,))
    n1.create_dataset('Tasks/0', data=series(['RSS'], []), maxshape=(None,))
    n1.create_dataset('Other', data=np.arange(3))
    n2 = f.create_group('Steps/batch/Nodes/n2')
    n2.create_dataset('Energy', data=series(['Power'], [(0, 0, 0), (20, 20, 0)]), maxshape=(None,))
    f.create_dataset('Steps/batch/extra', data=np.arange(2))
    f.create_group('Steps/9').create_dataset('x', data=np.arange(2))
`,
      [file],
    );
    const r = await ingest('hpc/job_88.h5', file);
    expect(await skippedOf(r.jobId)).toEqual([
      { path: '/Steps/9', reason: 'step has no Nodes group' },
      { path: '/Steps/batch/extra', reason: 'outside the Nodes group' },
      {
        path: '/Steps/batch/Nodes/n1/Other',
        reason: expect.stringContaining('not a profile series'),
      },
      { path: '/Steps/batch/Nodes/n1/Tasks/0', reason: 'dataset has no rows' },
      {
        path: '/Steps/batch/Nodes/n2/Energy__Power',
        reason: 'power column is all zero or missing',
      },
    ]);
    const rows = await summaries(r.tables[0] as string);
    expect(rows.map((s) => [s.scope, s.node, s.energy, s.reason])).toEqual([
      ['job', 'n1,n2', null, 'no energy data for node n2'],
      ['node', 'n1', 1000, null],
      ['node', 'n2', null, 'every power column is all zero or missing'],
    ]);
    expect(rows[0]).toMatchObject({ step: 'batch', nodes: 2, time: 20 });
  });

  it('NO_VAL readings in a real file are missing values, not readings', async () => {
    const r = await ingest('hpc/novalues/9646276_batch_c0107.h5', C0107);
    const rows = (
      await db.query(
        `SELECT "ElapsedTime" AS t, "Tasks_0__GPUMemMB" AS mem, "Tasks_0__GPUUtilization" AS util
         FROM ${r.tables[0]} WHERE "ElapsedTime" IN (0, 30, 60) ORDER BY 1`,
      )
    ).rows;
    // GPUMemMB is 2^44-1 and GPUUtilization ~1.8e19 after the first sample: nothing follows to
    // interpolate towards, so those cells are empty.
    expect(rows).toEqual([
      { t: 0, mem: 10_596_176, util: 0 },
      { t: 30, mem: null, util: null },
      { t: 60, mem: null, util: null },
    ]);
  });

  it('an interior NO_VAL is interpolated from the real neighbours; a NO_VAL power is no power', async () => {
    const file = path.join(stack.tmp, 'noval_5.h5');
    writeProfileFile(file, {
      n1: {
        Energy: {
          ElapsedTime: [0, 10, 20, 30],
          EpochTime: [0, 10, 20, 30],
          Power: [100, 2 ** 64 - 1, 300, 2 ** 64 - 2],
        },
        'Tasks/0': {
          ElapsedTime: [0, 10, 20, 30],
          EpochTime: [0, 10, 20, 30],
          GPUMemMB: [100, 2 ** 44 - 1, 300, 400],
          GPUUtilization: [10, 2 ** 64, 30, 40],
        },
      },
    });
    const r = await ingest('hpc/noval_5.h5', file);
    const rows = (
      await db.query(
        `SELECT "Energy__Power" AS raw, "NodePower" AS p, "Energy_used_J" AS used,
           "Tasks_0__GPUMemMB" AS mem, "Tasks_0__GPUUtilization" AS util
         FROM ${r.tables[0]} ORDER BY "ElapsedTime"`,
      )
    ).rows;
    expect(rows).toEqual([
      { raw: 100, p: 100, used: 0, mem: 100, util: 10 },
      { raw: 200, p: 200, used: 2000, mem: 200, util: 20 },
      { raw: 300, p: 300, used: 5000, mem: 300, util: 30 },
      { raw: null, p: null, used: null, mem: 400, util: 40 },
    ]);
    const [job] = await summaries(r.tables[0] as string);
    expect(job).toMatchObject({ energy: 5000, time: 30, peak: 300, peak_t: 20 });
  });
});

describe('migration 061', () => {
  it('keeps job_summaries rows written before it valid, as whole-file job rows', async () => {
    const database = `t_m061_${process.pid}`;
    const admin = new pg.Client({ connectionString: inject('pgUrl') });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin.query(`CREATE DATABASE ${database}`);
    const pool = new pg.Pool({
      connectionString: inject('pgUrl').replace(/\/[^/]*$/, `/${database}`),
    });
    try {
      const dir = path.join(stack.tmp, 'migrations-before-061');
      await mkdir(dir, { recursive: true });
      const all = (await readdir(defaultMigrationsDir())).filter((f) => /^\d{3}-/.test(f));
      const copy = (f: string) => copyFile(path.join(defaultMigrationsDir(), f), path.join(dir, f));
      for (const f of all.filter((f) => f < '061')) await copy(f);
      await migrate(pool, dir);
      await pool.query(
        `INSERT INTO job_summaries (table_name, bucket, key, node, energy_to_solution_j, time_to_solution_s, rows)
         VALUES ('job_old', 'b', 'k.h5', 'a,b', 5000, 30, 10), ('job_odd', 'b', 'o.h5', 'c', NULL, 3, 1)`,
      );
      for (const f of all.filter((f) => f >= '061')) await copy(f);
      expect(await migrate(pool, dir)).toContain('061-job-summaries-steps.sql');
      const rows = await pool.query(
        `SELECT table_name, scope, step, node, energy_to_solution_j AS e, energy_reason AS reason
         FROM job_summaries ORDER BY table_name`,
      );
      expect(rows.rows).toEqual([
        {
          table_name: 'job_odd',
          scope: 'job',
          step: null,
          node: 'c',
          e: null,
          reason: expect.any(String),
        },
        { table_name: 'job_old', scope: 'job', step: null, node: 'a,b', e: 5000, reason: null },
      ]);
      // Energy is unknown only with a reason.
      await expect(
        pool.query(
          `INSERT INTO job_summaries (table_name, bucket, key, rows) VALUES ('x', 'b', 'k', 0)`,
        ),
      ).rejects.toThrow(/job_summaries_energy_or_reason/);
    } finally {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${database}`);
      await admin.end();
    }
  });
});
