import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  announcedSchema,
  createdJobSchema,
  errorSchema,
  jobListSchema,
  renameAliases,
} from '../../functions/jobs/schemas.ts';
import { createWorker } from '../../infra/worker/agent.ts';
import { parseConfig } from '../../shared/config/load.ts';
import * as z from '../../shared/validation/zod.ts';
import { type JobsApi, startJobsApi } from '../helpers/jobs-api.ts';
import type { TestStack } from '../helpers/stack.ts';

let root: string;
let stack: TestStack;
let jobsApi: JobsApi;
let api: string;
let db: pg.Client;
let amick: string;
let admin: string;
let workerToken: string;
const phys = (...p: string[]) => path.join(root, 'phys', ...p);

async function toml(name: string, body: string) {
  const file = path.join(root, `${name}.toml`);
  await writeFile(file, body);
  return file;
}
const storageOf = async (name: string, body: string) =>
  parseConfig({ JWT_SECRET: 'x', SLUICE_CONFIG: await toml(name, body) }).storage.filter(
    (b) => b.name !== 'data',
  );

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'sluice-jobs-'));
  for (const d of ['vast/amick/in', 'scratch/amick/in', 'gdrive/amick/in', 'legacy/amick/in'])
    await mkdir(phys(d), { recursive: true });
  // The "Mac client" (the API) and the "container worker" mount the same VAST folder at different paths.
  await mkdir(path.join(root, 'Volumes'));
  await mkdir(path.join(root, 'mnt'));
  await symlink(phys('vast'), path.join(root, 'Volumes', 'vast'));
  await symlink(phys('vast'), path.join(root, 'mnt', 'vast'));
  await writeFile(
    path.join(root, 'Volumes', 'vast', 'amick', 'in', 'data.txt'),
    'placed by the client',
  );
  await writeFile(phys('scratch/amick/in/s.txt'), 'scratch data');
  await writeFile(phys('gdrive/amick/in/g.txt'), 'only the API can read this');
  await writeFile(phys('legacy/amick/in/l.txt'), 'legacy root');
  const apiToml = await toml(
    'api',
    `[storage.vast]\ntype = "nfs"\nbase_path = "${path.join(root, 'Volumes', 'vast')}"\n[storage.scratch]\ntype = "local"\nbase_path = "${phys('scratch')}"\n[storage.gdrive]\ntype = "local"\nbase_path = "${phys('gdrive')}"\n`,
  );
  jobsApi = await startJobsApi({ SLUICE_CONFIG: apiToml, SLUICE_LEASE_S: '2' });
  ({ stack, api, db, amick, admin, workerToken } = jobsApi);
}, 60_000);
afterAll(async () => {
  await jobsApi.close();
  await rm(root, { recursive: true, force: true });
});

const call = (method: string, url: string, token: string | undefined, body?: unknown) =>
  jobsApi.call(method, url, token, body);
const submit = (body: Record<string, unknown>, token = amick) =>
  call('POST', '/api/v1/jobs', token, { kind: 'copy', ...body });
const job = (id: number) => jobsApi.job(id);
const announce = (id: string, backends: string[]) => jobsApi.announce(id, backends);

/** `sluice worker` as its own process, polling fast. */
const spawnWorker = (
  config: string,
  id: string,
  exec: string,
  extra: Record<string, string> = {},
) =>
  spawn(
    process.execPath,
    [
      'infra/cli/bin.mjs',
      'worker',
      '--config',
      config,
      '--id',
      id,
      '--exec',
      exec,
      '--poll',
      '100',
    ],
    {
      env: { PATH: process.env.PATH, SLUICE_API: api, SLUICE_TOKEN: workerToken, ...extra },
      stdio: 'ignore',
    },
  );

describe('routing by storage capability', () => {
  it('sends jobs only to workers with their backend; the container worker reads what the Mac client placed', async () => {
    const containerVast = await storageOf(
      'worker-a',
      `[storage.vast]\ntype = "nfs"\nbase_path = "${path.join(root, 'mnt', 'vast')}"\n`,
    );
    const scratchOnly = await storageOf(
      'worker-b',
      `[storage.scratch]\ntype = "local"\nbase_path = "${phys('scratch')}"\n`,
    );
    await announce('worker-a', ['vast']);
    await announce('worker-b', ['scratch']);
    const v = await submit({
      storage_backend: 'vast',
      input_file: 'in/data.txt',
      output_dir: 'out/v',
    });
    const s = await submit({
      storage_backend: 'scratch',
      input_file: 'in/s.txt',
      output_dir: 'out/s',
    });
    expect(v.status).toBe(201);
    expect(s.status).toBe(201);
    const logs: string[] = [];
    const b = createWorker({
      api,
      token: workerToken,
      workerId: 'worker-b',
      storage: scratchOnly,
      pollMs: 50,
      maxJobs: 1,
      log: (l) => logs.push(l),
    });
    await b.run();
    expect(await job(s.body.jobId)).toMatchObject({
      status: 'done',
      workerId: 'worker-b',
      mode: 'direct',
    });
    expect((await job(v.body.jobId)).status).toBe('queued');
    const a = createWorker({
      api,
      token: workerToken,
      workerId: 'worker-a',
      storage: containerVast,
      pollMs: 50,
      maxJobs: 1,
      log: (l) => logs.push(l),
    });
    await a.run();
    const done = await job(v.body.jobId);
    expect(done).toMatchObject({
      status: 'done',
      workerId: 'worker-a',
      mode: 'direct',
      outputPath: 'vast:amick/out/v',
    });
    expect(
      logs.some((l) => l.includes('PATH_VALIDATED') && l.includes(path.join(root, 'mnt', 'vast'))),
    ).toBe(true);
    // The client sees the worker's output through its own mount.
    expect(
      await readFile(path.join(root, 'Volumes', 'vast', 'amick', 'out', 'v', 'data.txt'), 'utf8'),
    ).toBe('placed by the client');
  });

  it('runs a job whose backend no live worker has in transfer mode; outputs reach its output_dir and staging is removed', async () => {
    const g = await submit({
      storage_backend: 'gdrive',
      input_file: 'in/g.txt',
      output_dir: 'out/g',
    });
    const scratchOnly = await storageOf(
      'worker-b2',
      `[storage.scratch]\ntype = "local"\nbase_path = "${phys('scratch')}"\n`,
    );
    const b = createWorker({
      api,
      token: workerToken,
      workerId: 'worker-b',
      storage: scratchOnly,
      pollMs: 50,
      maxJobs: 1,
      log: () => {},
    });
    await b.run();
    const done = await job(g.body.jobId);
    expect(done).toMatchObject({ status: 'done', mode: 'transfer', workerId: 'worker-b' });
    // Delivered where the owner reads it: the job's output_dir on its own backend.
    expect(done.outputPath).toBe('gdrive:amick/out/g');
    expect(await readFile(phys('gdrive/amick/out/g/g.txt'), 'utf8')).toBe(
      'only the API can read this',
    );
    // The staging folder (input and outputs) is gone.
    const left = await stack.services.s3.internal.send(
      new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: `_jobs/${g.body.jobId}/` }),
    );
    expect(left.KeyCount ?? 0).toBe(0);
  });

  it('fails a job whose backend is missing everywhere and cannot be staged, naming the backend', async () => {
    await announce('tape-robot', ['tape']);
    const t = await submit({ storage_backend: 'tape', input_file: 'in/x.bin', output_dir: 'out' });
    expect(t.status).toBe(201);
    await db.query(
      `UPDATE workers SET last_seen = now() - interval '1 hour' WHERE worker_id = 'tape-robot'`,
    );
    const claimed = await call('POST', '/api/v1/workers/worker-b/claim', workerToken);
    expect(claimed.body.job).toBeNull();
    expect(await job(t.body.jobId)).toMatchObject({
      status: 'failed',
      errorCode: 'BACKEND_NOT_AVAILABLE',
      error: expect.stringContaining("Backend 'tape'"),
    });
  });
});

describe('backward compatibility', () => {
  it('a worker with only SHARED_STORAGE_ROOT serves jobs without storage_backend, and reports PATH_ERROR itself', async () => {
    const legacy = parseConfig({
      JWT_SECRET: 'x',
      SHARED_STORAGE_ROOT: phys('legacy'),
    }).storage.filter((b) => b.name !== 'data');
    expect(legacy.map((b) => b.name)).toEqual(['default']);
    await announce('old-box', ['default']);
    const l = await submit({ input_file: 'in/l.txt', output_dir: 'out/l' });
    expect(l.body.job.storageBackend).toBe('default');
    const bad = await submit(
      { user_subdir: 'nobody', input_file: 'in/l.txt', output_dir: 'out' },
      admin,
    );
    const logs: string[] = [];
    const w = createWorker({
      api,
      token: workerToken,
      workerId: 'old-box',
      storage: legacy,
      pollMs: 50,
      maxJobs: 2,
      log: (x) => logs.push(x),
    });
    await w.run();
    expect(await job(l.body.jobId)).toMatchObject({ status: 'done', workerId: 'old-box' });
    expect(await readFile(phys('legacy/amick/out/l/l.txt'), 'utf8')).toBe('legacy root');
    expect(await job(bad.body.jobId)).toMatchObject({
      status: 'failed',
      errorCode: 'PATH_ERROR',
      error: "User directory 'nobody' not found in backend 'default'",
    });
  });
});

describe('a worker killed mid-job', () => {
  it('loses the job after its lease; another worker completes it exactly once', async () => {
    await writeFile(phys('scratch/amick/in/k.txt'), 'killed once');
    const k = await submit({
      storage_backend: 'scratch',
      input_file: 'in/k.txt',
      output_dir: 'out/k',
    });
    const workerToml = await toml(
      'killer',
      `[storage.scratch]\ntype = "local"\nbase_path = "${phys('scratch')}"\n`,
    );
    const child = spawnWorker(workerToml, 'doomed', 'sleep 30', { SLUICE_HEARTBEAT_MS: '500' });
    const t0 = Date.now();
    while (Date.now() - t0 < 30_000 && (await job(k.body.jobId)).status !== 'running')
      await new Promise((r) => setTimeout(r, 100));
    expect(await job(k.body.jobId)).toMatchObject({ status: 'running', workerId: 'doomed' });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    await new Promise((r) => setTimeout(r, 2500));
    const rescuer = createWorker({
      api,
      token: workerToken,
      workerId: 'rescuer',
      storage: await storageOf(
        'rescuer',
        `[storage.scratch]\ntype = "local"\nbase_path = "${phys('scratch')}"\n`,
      ),
      pollMs: 50,
      maxJobs: 1,
      log: () => {},
    });
    await rescuer.run();
    expect(await job(k.body.jobId)).toMatchObject({
      status: 'done',
      workerId: 'rescuer',
      attempts: 2,
    });
    expect(await readFile(phys('scratch/amick/out/k/k.txt'), 'utf8')).toBe('killed once');
  }, 60_000);
});

describe('graceful shutdown', () => {
  it('on SIGTERM a worker finishes its job, reports it and exits', async () => {
    await writeFile(phys('scratch/amick/in/t.txt'), 'term');
    const t = await submit({
      storage_backend: 'scratch',
      input_file: 'in/t.txt',
      output_dir: 'out/t',
    });
    const workerToml = await toml(
      'graceful',
      `[storage.scratch]\ntype = "local"\nbase_path = "${phys('scratch')}"\n`,
    );
    const child = spawnWorker(
      workerToml,
      'graceful',
      `sh -c 'sleep 1.5 && cp "$SLUICE_INPUT" "$SLUICE_OUTPUT_DIR"/'`,
    );
    const t0 = Date.now();
    while (Date.now() - t0 < 30_000 && (await job(t.body.jobId)).status !== 'running')
      await new Promise((r) => setTimeout(r, 50));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await job(t.body.jobId)).toMatchObject({ status: 'done', workerId: 'graceful' });
    expect(await readFile(phys('scratch/amick/out/t/t.txt'), 'utf8')).toBe('term');
  }, 60_000);
});

describe('hostile input', () => {
  it('refuses traversal, absolute paths, unknown backends, other users and non-workers', async () => {
    // A sub with path syntax is its own encoded directory, never amick's (issue 19.4).
    const sneaky = await stack.token('x/../amick');
    const own = await submit(
      { storage_backend: 'vast', input_file: 'in/data.txt', output_dir: 'o' },
      sneaky,
    );
    expect(own.status, JSON.stringify(own.body)).toBe(404);
    expect(own.body.message).toContain('x%2F..%2Famick');
    expect(
      (
        await submit(
          {
            storage_backend: 'vast',
            user_subdir: 'amick',
            input_file: 'in/data.txt',
            output_dir: 'o',
          },
          sneaky,
        )
      ).status,
    ).toBe(403);
    expect(
      (
        await submit({
          storage_backend: 'vast',
          user_subdir: '../../etc',
          input_file: 'passwd',
          output_dir: 'o',
        })
      ).status,
    ).toBe(403);
    const trav = await submit(
      { storage_backend: 'vast', user_subdir: '../../etc', input_file: 'passwd', output_dir: 'o' },
      admin,
    );
    expect(trav.status).toBe(400);
    expect(trav.body.message).toMatch(/user_subdir: Path escapes base directory/);
    const abs = await submit({
      storage_backend: 'vast',
      input_file: '/etc/passwd',
      output_dir: 'o',
    });
    expect(abs.status).toBe(400);
    expect(abs.body.message).toMatch(/input_file: .*relative/);
    expect(
      (await submit({ storage_backend: 'vast', input_file: 'in/../../x', output_dir: 'o' })).status,
    ).toBe(400);
    expect(
      (await submit({ storage_backend: 'vast', input_file: 'in/nope.txt', output_dir: 'o' })).body
        .code,
    ).toBe('INPUT_NOT_FOUND');
    const unknown = await submit({
      storage_backend: 'hyperspace',
      input_file: 'a',
      output_dir: 'o',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('BACKEND_NOT_AVAILABLE');
    const mine = (await call('GET', '/api/v1/jobs', amick)).body.jobs as { id: number }[];
    const sam = await stack.token('sam');
    expect((await call('GET', `/api/v1/jobs/${mine[0]?.id}`, sam)).status).toBe(404);
    expect((await call('GET', '/api/v1/jobs', sam)).body.jobs).toEqual([]);
    expect((await call('POST', '/api/v1/workers/worker-a/claim', amick)).status).toBe(403);
    expect(
      (
        await call('POST', '/api/v1/workers/announce', amick, {
          worker_id: 'x',
          capabilities: { storage_backends: [] },
        })
      ).status,
    ).toBe(403);
    const other = await stack.token('other-bot', ['worker']);
    // A worker principal cannot read jobs held by someone else's workers.
    expect((await call('GET', `/api/v1/jobs/${mine[0]?.id}`, other)).status).toBe(404);
    expect((await call('POST', '/api/v1/workers/worker-a/claim', other)).status).toBe(403);
  });

  it('answers camelCase, as declared, and takes the snake_case request names as aliases', async () => {
    const camel = await submit({
      storageBackend: 'scratch',
      inputFile: 'in/s.txt',
      outputDir: 'o/c',
    });
    const snake = await submit({
      storage_backend: 'scratch',
      input_file: 'in/s.txt',
      output_dir: 'o/s',
    });
    for (const r of [camel, snake]) {
      expect(r.status).toBe(201);
      // Strict parse of the declared answer: a snake_case field left behind would fail it.
      z.parse(z.strictObject({ ...createdJobSchema.def.shape }), r.body);
      expect(r.body.jobId).toBe(r.body.job.id);
    }
    expect(snake.body.job).toMatchObject({ storageBackend: 'scratch', outputDir: 'o/s' });
    z.parse(jobListSchema, (await call('GET', '/api/v1/jobs', amick)).body);
    const bad = await submit({ storageBackend: 'scratch', inputFile: '' });
    expect(bad.status).toBe(400);
    z.parse(errorSchema, bad.body);
    expect(JSON.stringify(bad.body.details)).toContain('inputFile');
    const announced = await call('POST', '/api/v1/workers/announce', workerToken, {
      worker_id: 'alias-box',
      capabilities: { storage_backends: ['scratch'] },
    });
    expect(z.parse(z.strictObject({ ...announcedSchema.def.shape }), announced.body)).toMatchObject(
      {
        workerId: 'alias-box',
      },
    );
    const doc = (await call('GET', '/openapi.json', undefined)).body;
    const post = doc.paths['/api/v1/jobs'].post;
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['201', '400', '401']));
    expect(post.responses['201'].content['application/json'].schema.properties).toHaveProperty(
      'jobId',
    );
    expect(post.requestBody.content['application/json'].schema.properties).toHaveProperty(
      'inputFile',
    );
    expect(post.description).toContain('`input_file` for `inputFile`');
  });

  it('renames an alias only where the camelCase name is not given too', () => {
    const aliases = { input_file: 'inputFile' };
    expect(renameAliases({ input_file: 'a', kind: 'k' }, aliases)).toEqual({
      inputFile: 'a',
      kind: 'k',
    });
    expect(renameAliases({ input_file: 'a', inputFile: 'b' }, aliases)).toEqual({ inputFile: 'b' });
    expect(renameAliases(['x'], aliases)).toEqual(['x']);
  });
});
