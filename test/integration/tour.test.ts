import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadStateFile } from '../../infra/cli/lib/upload-state.ts';
import { freePort } from '../../infra/local/free-port.ts';
import { uploadAndKill } from '../helpers/interrupt-upload.ts';
import { createTour, type Tour, type TourBlock, tourBlocks } from '../helpers/tour.ts';

const MiB = 1024 * 1024;
let tour: Tour;
let readme: TourBlock[];
let cliTour: TourBlock[];

beforeAll(async () => {
  readme = tourBlocks(await readFile('README.md', 'utf8'), 'README.md');
  cliTour = tourBlocks(await readFile('infra/cli/README.md', 'utf8'), 'infra/cli/README.md');
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(await freePort());
  const [api, pgPort, s3] = [...ports] as [number, number, number];
  tour = await createTour({
    PORT: String(api),
    SLUICE_PG_PORT: String(pgPort),
    SLUICE_S3_PORT: String(s3),
    SLUICE_RESCAN_INTERVAL_S: '0',
    LOG_LEVEL: 'warn',
    // Small parts so the interrupted upload below is multipart without hundreds of MiB.
    SLUICE_SINGLE_PUT_MAX_BYTES: String(6 * MiB),
    SLUICE_MULTIPART_PART_BYTES: String(5 * MiB),
  });
});
afterAll(async () => {
  await tour?.stop();
});

describe('the documented tours, run as written on a fresh clone', () => {
  it('finds the tour blocks in both READMEs', () => {
    expect(readme.map((b) => b.kind)).toEqual(['setup', 'start', 'run']);
    expect(cliTour.map((b) => b.kind)).toEqual(['run']);
  });

  it("runs the README's first tour: the uploaded HDF5 file becomes its table", async () => {
    for (const block of readme) {
      if (block.kind === 'start') await tour.start(block);
      else await tour.run(block);
    }
    const stack = JSON.parse(await readFile(path.join(tour.dir, '.sluice', 'stack.json'), 'utf8'));
    const db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
    try {
      const job = await db.query('SELECT status FROM ingest_jobs WHERE key = $1', [
        'dev/runs/job_42.h5',
      ]);
      expect(job.rows[0]?.status).toBe('done');
      expect((await db.query('SELECT count(*)::int AS n FROM job_job_42')).rows[0].n).toBe(3);
    } finally {
      await db.end();
    }
  }, 180_000);

  it('runs the CLI tour: every command succeeds', async () => {
    const out = await tour.run(cliTour[0] as TourBlock, 240_000);
    expect(out).toContain('created lee');
    expect(out).toContain('logged in as lee');
    expect(out).toContain('lee/job_42.h5');
    expect(out).toContain('scan-1: ok');
    expect(out).toContain('[x] same physical directory');
    expect(out).not.toMatch(/^\[ \]/m);
  }, 300_000);

  it('interrupts a multipart upload, changes a part, and resumes it to the right bytes', async () => {
    const file = path.join(tour.dir, 'big.bin');
    const data = randomBytes(30 * MiB);
    await writeFile(file, data);
    const stack = JSON.parse(await readFile(path.join(tour.dir, '.sluice', 'stack.json'), 'utf8'));
    const state = await uploadAndKill({
      file,
      stateFile: uploadStateFile(path.join(tour.dir, '.sluice'), stack.api, file, 'big.bin'),
      env: tour.env,
      cwd: tour.dir,
    });
    expect(Object.keys(state.parts).length).toBeLessThan(state.plan.partCount);
    data.fill(9, 0, 64); // part 1 changes, the size does not
    await writeFile(file, data);
    const out = await tour.run({
      kind: 'run',
      source: 'this test',
      code: [
        'sluice() { node "$PWD/infra/cli/bin.mjs" "$@"; }',
        'sluice upload big.bin',
        'sluice --json download dev/big.bin -o big.back',
        'sha256sum big.bin big.back',
      ].join('\n'),
    });
    expect(out).toContain('part 1 changed since it was sent; sending it again');
    const sums = [...out.matchAll(/^([0-9a-f]{64}) {2}big\.(bin|back)$/gm)].map((m) => m[1]);
    expect(sums).toHaveLength(2);
    expect(sums[0]).toBe(sums[1]);
  }, 120_000);
});
