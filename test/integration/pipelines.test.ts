import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventsApp } from '../../functions/events/app.ts';
import { minioBody, postEvent, putObject } from '../helpers/events.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

// The registry's dispatch end to end: `[ingest.pipelines]` from the TOML reaches the HDF5 worker
// thread, the chosen pipeline's name is recorded on the job, and only the profile pipeline's
// `afterPublish` writes job_summaries.
const PROFILE_FILE = path.resolve('test/fixtures/slurm/mak8427_9646276_batch_c0107.h5');
const TABLES_FILE = path.resolve('test/fixtures/hdf5/pytables_smpl_compound_chunked.h5');

let stack: TestStack;
let db: pg.Client;
beforeAll(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-pipelines-'));
  const toml = path.join(dir, 'sluice.toml');
  await writeFile(
    toml,
    '[ingest.pipelines]\n"forced/" = "tables"\n"forced/profile/" = "profile"\n',
  );
  stack = await createTestStack({ SLUICE_CONFIG: toml });
  db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db.end();
  await stack.close();
});

async function ingest(key: string, file: string) {
  const etag = await putObject(stack, key, file);
  const res = await postEvent(createEventsApp(stack.services), minioBody(stack.bucket, key, etag));
  expect(res.status).toBe(200);
  const body = (await res.json()) as {
    results: { status: string; tables?: string[]; reason?: string }[];
  };
  const job = (
    await db.query<{ pipeline: string | null; status: string; error: string | null }>(
      'SELECT pipeline, status, error FROM ingest_jobs WHERE key = $1',
      [key],
    )
  ).rows[0];
  return { result: body.results[0], job };
}

const summaryCount = async (tables: string[]) =>
  Number(
    (
      await db.query<{ n: string }>(
        'SELECT count(*) AS n FROM job_summaries WHERE table_name = ANY($1)',
        [tables],
      )
    ).rows[0]?.n,
  );

describe('pipelines chosen by the registry', () => {
  it('auto-detects a Slurm profile: the profile pipeline, whose afterPublish writes job_summaries', async () => {
    const { result, job } = await ingest('auto/c0107.h5', PROFILE_FILE);
    expect(result?.status).toBe('done');
    expect(job?.pipeline).toBe('profile');
    expect(await summaryCount(result?.tables ?? [])).toBeGreaterThan(0);
  });

  it('a rule forces the tables pipeline on the same file: its tables, and no job_summaries', async () => {
    const { result, job } = await ingest('forced/c0107.h5', PROFILE_FILE);
    expect(result?.status, result?.reason).toBe('done');
    expect(job?.pipeline).toBe('tables');
    expect(result?.tables?.length).toBeGreaterThan(0);
    expect(await summaryCount(result?.tables ?? [])).toBe(0);
  });

  it('the longest rule forces the profile pipeline on a plain table: a failed job naming why', async () => {
    const { result, job } = await ingest('forced/profile/table.h5', TABLES_FILE);
    expect(result?.status).toBe('failed');
    expect(job?.status).toBe('failed');
    expect(job?.error).toMatch(/profile file has no non-empty series/);
  });
});
