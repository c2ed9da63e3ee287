import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventsApp } from '../../functions/events/app.ts';
import { createIngestPort } from '../../functions/rescan/ingest-port.ts';
import { runRescan } from '../../functions/rescan/rescan-service.ts';
import { createWorker } from '../../infra/worker/agent.ts';
import { WorkerAuthError } from '../../infra/worker/session.ts';
import { mintAccessToken } from '../../shared/auth/jwt.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { minioBody, postEvent, putObject } from '../helpers/events.ts';
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
let scratchToml: string;
const phys = (...p: string[]) => path.join(root, 'phys', ...p);
const scratch = () =>
  parseConfig({ JWT_SECRET: 'x', SLUICE_CONFIG: scratchToml }).storage.filter(
    (b) => b.name !== 'data',
  );

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'sluice-jobw-'));
  for (const d of ['scratch/amick/in', 'gdrive/amick/in'])
    await mkdir(phys(d), { recursive: true });
  scratchToml = path.join(root, 'scratch.toml');
  await writeFile(
    scratchToml,
    `[storage.scratch]\ntype = "local"\nbase_path = "${phys('scratch')}"\n`,
  );
  const apiToml = path.join(root, 'api.toml');
  await writeFile(
    apiToml,
    `[storage.scratch]\ntype = "local"\nbase_path = "${phys('scratch')}"\n[storage.gdrive]\ntype = "local"\nbase_path = "${phys('gdrive')}"\n`,
  );
  // Access tokens minted from worker credentials last 2 s, so renewal happens several times per test.
  jobsApi = await startJobsApi({
    SLUICE_CONFIG: apiToml,
    SLUICE_LEASE_S: '30',
    SLUICE_ACCESS_TTL_S: '2',
  });
  ({ stack, api, db, amick, admin, workerToken } = jobsApi);
}, 60_000);
afterAll(async () => {
  await jobsApi.close();
  await rm(root, { recursive: true, force: true });
});

const call = (method: string, url: string, token: string | undefined, body?: unknown) =>
  jobsApi.call(method, url, token, body);
const submit = (body: Record<string, unknown>) =>
  call('POST', '/api/v1/jobs', amick, { kind: 'copy', storage_backend: 'scratch', ...body });
const job = (id: number) => jobsApi.job(id);
const announce = (id: string, backends: string[]) => jobsApi.announce(id, backends);
const claim = (id: string) => call('POST', `/api/v1/workers/${id}/claim`, workerToken);
/** Bounded wait for a condition; fails the test with `what` when it does not happen. */
async function until(what: string, check: () => Promise<boolean>, ms = 15_000) {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
/** Queued jobs of other tests must not be claimed by this one; the race input exists. */
const clearQueue = async () => {
  await writeFile(phys('scratch/amick/in/race.txt'), 'race');
  await db.query(`UPDATE jobs SET status = 'failed' WHERE status IN ('queued', 'running')`);
};

describe('hostile file names reach the --exec command as data', () => {
  it('copies every name exactly and runs nothing they contain', async () => {
    await clearQueue();
    const names = [
      'run$(touch pwned).h5',
      'run`touch pwned2`.h5',
      'a;touch pwned3;.h5',
      `it's "quoted".h5`,
      '-rf.h5',
      '--help',
      '$(touch pwned4)',
      '{output_dir}.h5',
    ];
    const cwd = process.cwd();
    const before = await readdir(cwd);
    for (const n of names) await writeFile(phys('scratch/amick/in', n), `bytes of ${n}`);
    const ids: number[] = [];
    for (const n of names) {
      const r = await submit({ input_file: `in/${n}`, output_dir: 'out/hostile' });
      expect(r.status, n).toBe(201);
      ids.push(r.body.jobId);
    }
    const logs: string[] = [];
    const w = createWorker({
      api,
      token: workerToken,
      workerId: 'hostile-box',
      storage: scratch(),
      exec: 'cp {input} {output_dir}',
      pollMs: 20,
      maxJobs: names.length,
      log: (l) => logs.push(l),
    });
    await w.run();
    for (const id of ids) expect((await job(id)).status, logs.join('\n')).toBe('done');
    for (const n of names)
      expect(await readFile(phys('scratch/amick/out/hostile', n), 'utf8')).toBe(`bytes of ${n}`);
    // Nothing was created by the names: not in the worker's folder, not beside the data. (Other test
    // files run at the same time and may build into the same folder, so only the names' own files count.)
    expect(
      (await readdir(cwd)).filter((f) => !before.includes(f) && f.startsWith('pwned')),
    ).toEqual([]);
    for (const dir of ['scratch/amick/in', 'scratch/amick/out/hostile', 'scratch/amick'])
      expect((await readdir(phys(dir))).filter((f) => f.startsWith('pwned'))).toEqual([]);
    expect(existsSync(path.join(cwd, 'pwned'))).toBe(false);
  });

  it('a worker whose template would hand job data to a shell does not start', () => {
    expect(() =>
      createWorker({
        api,
        token: workerToken,
        workerId: 'shelly',
        storage: scratch(),
        exec: `sh -c 'cp {input} {output_dir}'`,
      }),
    ).toThrow(/SLUICE_INPUT/);
  });
});

describe('two workers racing (one conditional statement per transition)', () => {
  it('never hands one job to both when they claim at the same time', async () => {
    await clearQueue();
    await writeFile(phys('scratch/amick/in/race.txt'), 'race');
    const ids = new Set<number>();
    for (let i = 0; i < 8; i++)
      ids.add((await submit({ input_file: 'in/race.txt', output_dir: `out/race${i}` })).body.jobId);
    await announce('racer-a', ['scratch']);
    await announce('racer-b', ['scratch']);
    const claims = await Promise.all(
      Array.from({ length: 20 }, (_, i) => claim(i % 2 ? 'racer-a' : 'racer-b')),
    );
    const got = claims.map((c) => c.body.job?.id).filter((id): id is number => id !== undefined);
    expect(new Set(got).size).toBe(got.length);
    expect(new Set(got)).toEqual(ids);
    const rows = await db.query('SELECT attempts FROM jobs WHERE id = ANY($1)', [[...ids]]);
    expect(rows.rows.every((r) => r.attempts === 1)).toBe(true);
  });

  /** Holds the job's row lock while the requests line up behind it, then lets them race. */
  async function race(id: number, requests: (() => Promise<{ status: number }>)[]) {
    const lock = new pg.Client({ connectionString: stack.databaseUrl });
    await lock.connect();
    try {
      await lock.query('BEGIN');
      await lock.query('SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE', [id]);
      const pending: Promise<{ status: number }>[] = [];
      for (const [i, r] of requests.entries()) {
        pending.push(r());
        // Each request waits on the row before the next is sent, so they queue in order.
        await until(`request ${i} to wait on job ${id}`, async () => {
          const w = await db.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()
               AND wait_event_type = 'Lock' AND query ILIKE 'UPDATE jobs%'`,
          );
          return w.rows[0].n >= i + 1;
        });
      }
      await lock.query('ROLLBACK');
      return await Promise.all(pending);
    } finally {
      await lock.end();
    }
  }

  it("a heartbeat from a worker whose job was requeued and claimed by another does not extend the other's lease", async () => {
    await clearQueue();
    const id = (await submit({ input_file: 'in/race.txt', output_dir: 'out/hb' })).body.jobId;
    await announce('hb-a', ['scratch']);
    await announce('hb-b', ['scratch']);
    expect((await claim('hb-a')).body.job.id).toBe(id);
    await db.query(`UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [
      id,
    ]);
    const [bClaim, aBeat] = (await race(id, [
      () => claim('hb-b'),
      () => call('POST', `/api/v1/jobs/${id}/heartbeat`, workerToken, { worker_id: 'hb-a' }),
    ])) as [Awaited<ReturnType<typeof claim>>, Awaited<ReturnType<typeof claim>>];
    const after = await job(id);
    const bHas = bClaim.body.job?.id === id;
    const aKept = aBeat.status === 200;
    // Never both: a heartbeat that applied means the job is still A's, and B did not get it.
    expect(bHas && aKept).toBe(false);
    if (aKept) expect(after).toMatchObject({ status: 'running', workerId: 'hb-a' });
    else {
      expect(aBeat.status).toBe(409);
      // Requeued, and either claimed by B or waiting for the next claim; never A's lease.
      expect(after.workerId).toBe(bHas ? 'hb-b' : null);
      expect(after.status).toBe(bHas ? 'running' : 'queued');
    }
    // A late report from the worker that does not hold the job changes nothing.
    const late = await call('POST', `/api/v1/jobs/${id}/fail`, workerToken, {
      worker_id: aKept ? 'hb-b' : 'hb-a',
      error: 'late',
    });
    expect(late.status).toBe(409);
    expect(await job(id)).toMatchObject({ status: after.status, workerId: after.workerId });
  });

  it('fail racing complete: exactly one wins, and fail never overwrites a finished job', async () => {
    await clearQueue();
    const id = (await submit({ input_file: 'in/race.txt', output_dir: 'out/fc' })).body.jobId;
    await announce('fc-a', ['scratch']);
    expect((await claim('fc-a')).body.job.id).toBe(id);
    const [done, failed] = await race(id, [
      () =>
        call('POST', `/api/v1/jobs/${id}/complete`, workerToken, {
          worker_id: 'fc-a',
          output_path: 'scratch:amick/out/fc',
        }),
      () =>
        call('POST', `/api/v1/jobs/${id}/fail`, workerToken, { worker_id: 'fc-a', error: 'boom' }),
    ]);
    expect([done?.status, failed?.status].sort()).toEqual([200, 409]);
    const final = await job(id);
    expect(final.status).toBe(done?.status === 200 ? 'done' : 'failed');
    // And afterwards no transition applies to a finished job.
    for (const action of ['fail', 'heartbeat', 'complete'])
      expect(
        (
          await call('POST', `/api/v1/jobs/${id}/${action}`, workerToken, {
            worker_id: 'fc-a',
            ...(action === 'fail' ? { error: 'x' } : {}),
            ...(action === 'complete' ? { output_path: 'x' } : {}),
          })
        ).status,
      ).toBe(409);
    expect((await job(id)).status).toBe(final.status);
  });
});

describe('capabilities: a worker claims only kinds it runs', () => {
  it('without --exec it takes copy jobs only, leaves others queued, and logs failed jobs', async () => {
    await clearQueue();
    await writeFile(phys('scratch/amick/in/k.txt'), 'kinds');
    await writeFile(phys('gdrive/amick/in/k.txt'), 'kinds on gdrive');
    // Workers of earlier tests (some run every kind) are gone by now.
    await db.query(`UPDATE workers SET last_seen = now() - interval '1 hour'`);
    const train = await submit({ kind: 'train', input_file: 'in/k.txt', output_dir: 'out/k' });
    expect(train.body.warning).toBe(
      "No live worker runs kind 'train'; the job waits until one announces it",
    );
    // No worker has gdrive: a copy-only worker must not take this in transfer mode either.
    const trainFar = await submit({
      kind: 'train',
      storage_backend: 'gdrive',
      input_file: 'in/k.txt',
      output_dir: 'out/k',
    });
    const copy = await submit({ input_file: 'in/k.txt', output_dir: 'out/kc' });
    const logs: string[] = [];
    const plain = createWorker({
      api,
      token: workerToken,
      workerId: 'plain-box',
      storage: scratch(),
      pollMs: 20,
      maxJobs: 1,
      log: (l) => logs.push(l),
    });
    expect(plain.kinds).toEqual(['copy']);
    await plain.run();
    expect(await job(copy.body.jobId)).toMatchObject({ status: 'done', workerId: 'plain-box' });
    expect((await claim('plain-box')).body.job).toBeNull();
    // A copy-only worker is live now: a new train job is still told nobody runs it.
    expect(
      (await submit({ kind: 'train', input_file: 'in/k.txt', output_dir: 'out/k2' })).body.warning,
    ).toMatch(/No live worker runs kind 'train'/);
    expect((await submit({ input_file: 'in/k.txt', output_dir: 'out/k3' })).body.warning).toBe(
      undefined,
    );
    expect(await job(train.body.jobId)).toMatchObject({ status: 'queued', attempts: 0 });
    expect(await job(trainFar.body.jobId)).toMatchObject({ status: 'queued', attempts: 0 });
    const workers = (await call('GET', '/api/v1/workers', admin)).body.workers as {
      workerId: string;
      kinds: string[];
    }[];
    expect(workers.find((w) => w.workerId === 'plain-box')?.kinds).toEqual(['copy']);

    // A worker for `train` takes it; a failing command is recorded in the worker's own log.
    const trainer = createWorker({
      api,
      token: workerToken,
      workerId: 'trainer',
      storage: scratch(),
      exec: 'false',
      kinds: ['train'],
      pollMs: 20,
      maxJobs: 1,
      log: (l) => logs.push(l),
    });
    await trainer.run();
    expect(await job(train.body.jobId)).toMatchObject({
      status: 'failed',
      errorCode: 'EXIT_CODE',
      workerId: 'trainer',
    });
    expect(logs).toContain(`[job ${train.body.jobId}] failed EXIT_CODE: command exited with 1`);
  });
});

describe('worker credentials', () => {
  it('only admins mint, list and revoke; the list never shows a secret; bad credentials are refused', async () => {
    expect(
      (await call('POST', '/api/v1/worker-credentials', workerToken, { name: 'x' })).status,
    ).toBe(403);
    expect((await call('GET', '/api/v1/worker-credentials', amick)).status).toBe(403);
    expect((await call('GET', '/api/v1/worker-credentials', undefined)).status).toBe(401);
    const minted = await call('POST', '/api/v1/worker-credentials', admin, { name: 'gpu-1' });
    expect(minted.status).toBe(201);
    expect(minted.body).toMatchObject({ principal: 'worker:gpu-1', createdBy: 'root' });
    const listed = await call('GET', '/api/v1/worker-credentials', admin);
    expect(JSON.stringify(listed.body)).not.toContain(minted.body.credential.split('.')[2]);
    for (const bad of [
      'nope',
      `${minted.body.credential}x`,
      minted.body.credential.replace(/.$/, '_'),
    ])
      expect(
        (await call('POST', '/api/v1/worker-credentials/token', undefined, { credential: bad }))
          .body.details?.reason ?? 'x',
      ).toBe('bad_worker_credential');
    const ok = await call('POST', '/api/v1/worker-credentials/token', undefined, {
      credential: minted.body.credential,
    });
    expect(ok.body).toMatchObject({ principal: 'worker:gpu-1', expiresIn: 2, tokenType: 'Bearer' });
    // The exchanged token has the worker role and nothing else.
    expect((await call('GET', '/api/v1/worker-credentials', ok.body.accessToken)).status).toBe(403);
    expect((await call('GET', '/api/v1/workers', ok.body.accessToken)).status).toBe(200);
  });

  it('a worker on a credential outlives many token lifetimes, and stops with a clear error once revoked', async () => {
    await clearQueue();
    const minted = await call('POST', '/api/v1/worker-credentials', admin, { name: 'long-runner' });
    const logs: string[] = [];
    const w = createWorker({
      api,
      credential: minted.body.credential,
      workerId: 'long-runner',
      storage: scratch(),
      pollMs: 100,
      heartbeatMs: 200,
      log: (l) => logs.push(l),
    });
    const running = w.run();
    // Well past the 2 s token lifetime and the verifier's 5 s clock tolerance.
    await new Promise((r) => setTimeout(r, 9000));
    await writeFile(phys('scratch/amick/in/late.txt'), 'after many renewals');
    const late = await submit({ input_file: 'in/late.txt', output_dir: 'out/late' });
    await until(
      'the late job to finish',
      async () => (await job(late.body.jobId)).status === 'done',
    );
    expect((await job(late.body.jobId)).workerId).toBe('long-runner');
    await call('DELETE', `/api/v1/worker-credentials/${minted.body.id}`, admin);
    const t0 = Date.now();
    await expect(running).rejects.toBeInstanceOf(WorkerAuthError);
    expect(Date.now() - t0).toBeLessThan(15_000);
    const said = logs.filter((l) => l.includes('cannot authenticate'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/revoked/);
  }, 40_000);

  it('a worker on a plain token that expires mid-run says so once and exits non-zero', async () => {
    await clearQueue();
    await writeFile(phys('scratch/amick/in/short.txt'), 'before expiry');
    const before = await submit({ input_file: 'in/short.txt', output_dir: 'out/short' });
    const short = await mintAccessToken(stack.config.auth, {
      sub: 'worker-bot',
      roles: ['worker'],
      // Long enough for the CLI to start and run one job on a loaded machine; then it expires.
      ttlS: 12,
    });
    const child = spawn(
      process.execPath,
      [
        'infra/cli/bin.mjs',
        'worker',
        '--config',
        scratchToml,
        '--id',
        'short-lived',
        '--poll',
        '100',
      ],
      {
        env: { PATH: process.env.PATH, SLUICE_API: api, SLUICE_TOKEN: short },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const code = await Promise.race([
      new Promise<number | null>((r) => child.once('exit', r)),
      new Promise<string>((r) => setTimeout(() => r('still running after 45 s'), 45_000)),
    ]);
    if (typeof code === 'string') child.kill('SIGKILL');
    expect(code, out).toBe(3);
    expect(await job(before.body.jobId)).toMatchObject({
      status: 'done',
      workerId: 'short-lived',
    });
    expect(out.match(/cannot authenticate/g), out).toHaveLength(1);
    expect(out).toMatch(/Token expired/);
  }, 60_000);
});

describe('transfer-mode staging is never ingested', () => {
  it('a transfer job requeued and then run directly leaves no staging behind', async () => {
    await clearQueue();
    await db.query(`UPDATE workers SET last_seen = now() - interval '1 hour'`);
    await writeFile(phys('gdrive/amick/in/st.txt'), 'staged once');
    const id = (
      await submit({ storage_backend: 'gdrive', input_file: 'in/st.txt', output_dir: 'out/st' })
    ).body.jobId;
    await announce('far-box', ['scratch']);
    expect((await claim('far-box')).body.job).toMatchObject({ id, mode: 'transfer' });
    const staged = () =>
      stack.services.s3.internal
        .send(new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: `_jobs/${id}/` }))
        .then((r) => r.KeyCount ?? 0);
    expect(await staged()).toBe(1);
    await db.query(`UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [
      id,
    ]);
    await announce('near-box', ['gdrive']);
    expect((await claim('near-box')).body.job).toMatchObject({ id, mode: 'direct', attempts: 2 });
    expect(await staged()).toBe(0);
  });

  it('the webhook ignores staging keys and the rescan skips them', async () => {
    const events = createEventsApp(stack.services);
    const etag = await putObject(stack, '_jobs/999/input/data.h5', new Uint8Array([1, 2, 3]));
    const res = await postEvent(events, minioBody(stack.bucket, '_jobs/999/input/data.h5', etag));
    const body = (await res.json()) as { results: { status: string; reason?: string }[] };
    expect(body.results[0]).toMatchObject({
      status: 'ignored',
      reason: 'job staging object (not ingested)',
    });
    await putObject(stack, 'amick/seen.h5', new Uint8Array([1, 2, 3]));
    await runRescan(
      {
        pool: stack.services.db,
        s3: stack.services.s3.internal,
        bucket: stack.bucket,
        basePrefix: stack.config.s3.prefix,
        suffixes: stack.config.events.suffixes,
        ingest: createIngestPort(stack.services),
        log: stack.services.log,
      },
      {},
    );
    const keys = (await db.query('SELECT key FROM ingest_jobs ORDER BY key')).rows.map(
      (r) => r.key,
    );
    // The rescan did look at the bucket (it tried the user's object), but not at the staging area.
    expect(keys).toContain('amick/seen.h5');
    expect(keys.filter((k: string) => k.startsWith('_jobs/'))).toEqual([]);
  });
});
