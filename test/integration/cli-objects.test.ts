import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/registry.ts';
import { type UploadState, uploadStateFile } from '../../infra/cli/lib/upload-state.ts';
import { mintAccessToken } from '../../shared/auth/jwt.ts';
import { type NodeServer, serveNode } from '../../shared/http/serve-node.ts';
import { uploadAndKill } from '../helpers/interrupt-upload.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
let stack: TestStack;
let server: NodeServer;
let env: NodeJS.ProcessEnv;
let api: string;
let token: string;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const call = async (method: string, p: string, body?: unknown) =>
  (await (
    await fetch(`${api}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    })
  ).json()) as Record<string, any>;

beforeAll(async () => {
  stack = await createTestStack({
    SLUICE_SINGLE_PUT_MAX_BYTES: String(6 * MiB),
    SLUICE_MULTIPART_PART_BYTES: String(5 * MiB),
  });
  server = await serveNode(createApp('all', stack.services), { port: 0, hostname: '127.0.0.1' });
  api = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
  token = await stack.token('amick');
  env = {
    PATH: process.env.PATH,
    SLUICE_API: api,
    SLUICE_TOKEN: token,
    SLUICE_STATE_DIR: stack.tmp,
  };
});
afterAll(async () => {
  await server.close(1000);
  await stack.close();
});

const sluice = (args: string[]) =>
  run(process.execPath, ['infra/cli/bin.mjs', ...args], {
    env,
    cwd: process.cwd(),
    maxBuffer: 16 * MiB,
  });

describe('sluice upload / download / ls', () => {
  it('uploads a small file with one PUT and a large one in parallel parts, verifies, lists and downloads them', async () => {
    const small = path.join(stack.tmp, 'small.bin');
    const big = path.join(stack.tmp, 'big.bin');
    const smallData = randomBytes(1000);
    const bigData = randomBytes(13 * MiB + 77);
    await writeFile(small, smallData);
    await writeFile(big, bigData);
    const up = await sluice(['--json', 'upload', small, big]);
    const lines = up.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { key: 'amick/small.bin', size: 1000, multipart: false, sha256: sha(smallData) },
      { key: 'amick/big.bin', size: bigData.length, multipart: true, sha256: sha(bigData) },
    ]);
    const ls = await sluice(['ls']);
    expect(ls.stdout).toContain('amick/big.bin');
    expect(ls.stdout).toContain(String(bigData.length));
    const out = path.join(stack.tmp, 'back.bin');
    const down = JSON.parse(
      (await sluice(['--json', 'download', 'amick/big.bin', '-o', out])).stdout,
    );
    expect(down.sha256).toBe(sha(bigData));
    expect(sha(await readFile(out))).toBe(sha(bigData));
  });

  it('shows a progress bar with rate and ETA when run in a terminal', async () => {
    const file = path.join(stack.tmp, 'tty.bin');
    await writeFile(file, randomBytes(7 * MiB));
    // `script` gives the CLI a pseudo-terminal, as an interactive shell would.
    const cmd = `${process.execPath} infra/cli/bin.mjs upload ${file}`;
    const { stdout } = await run('script', ['-qec', cmd, '/dev/null'], {
      env,
      maxBuffer: 16 * MiB,
    });
    expect(stdout).toMatch(
      /tty\.bin [a-z ]+ \[[=-]+\] 100% \| 7340032\/7340032 bytes \| [\d.]+ MB\/s \| ETA/,
    );
    // The bar names its phase, so a long hash is not mistaken for a stalled upload.
    expect(stdout).toContain('tty.bin uploading');
    expect(stdout).toContain('amick/tty.bin');
  });

  /** What a previous run left: the plan, and part 1 sent (its bytes `sent`) and recorded. */
  async function interruptedAfterPart1(
    name: string,
    data: Buffer,
    sent = data.subarray(0, 5 * MiB),
  ) {
    const file = path.join(stack.tmp, name);
    await writeFile(file, data);
    const plan = await call('POST', '/api/v1/uploads', { name, size: data.length });
    const id = encodeURIComponent(plan.uploadId);
    const urls = await call('POST', `/api/v1/uploads/${id}/parts`, {
      key: plan.key,
      partNumbers: [1],
    });
    const res = await fetch(urls.parts[0].url, { method: 'PUT', body: new Uint8Array(sent) });
    const etag = (res.headers.get('etag') ?? '').replaceAll('"', '');
    await call('PUT', `/api/v1/uploads/${id}/parts/1`, { key: plan.key, etag, size: sent.length });
    const stateFile = uploadStateFile(stack.tmp, api, file, name);
    const state: UploadState = {
      version: 1,
      api,
      file,
      name,
      size: data.length,
      plan: plan as UploadState['plan'],
      parts: { '1': { sha256: sha(sent), md5: md5(sent), etag } },
    };
    await mkdir(path.dirname(stateFile), { recursive: true });
    await writeFile(stateFile, JSON.stringify(state));
    return { file, plan, stateFile, state };
  }
  const uploadRows = async (key: string) => {
    const db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
    try {
      return (
        await db.query('SELECT upload_id, status FROM uploads WHERE key = $1 ORDER BY created_at', [
          key,
        ])
      ).rows;
    } finally {
      await db.end();
    }
  };
  const download = async (key: string) => {
    const out = path.join(stack.tmp, `${path.basename(key)}.out`);
    await sluice(['download', key, '-o', out]);
    return sha(await readFile(out));
  };

  it('resumes an interrupted multipart upload from the state in its own folder, skipping only proven parts', async () => {
    const data = randomBytes(11 * MiB);
    const { file, plan, stateFile } = await interruptedAfterPart1('resume.bin', data);
    const out = JSON.parse((await sluice(['--json', 'upload', file])).stdout);
    expect(out).toMatchObject({ key: 'amick/resume.bin', sha256: sha(data) });
    expect(existsSync(stateFile)).toBe(false);
    // Nothing is written beside the user's file.
    expect((await readdir(stack.tmp)).filter((f) => f.includes('sluice-upload'))).toEqual([]);
    // The saved upload was completed: no second plan was made.
    expect(await uploadRows('amick/resume.bin')).toEqual([
      { upload_id: plan.uploadId, status: 'completed' },
    ]);
    expect(await download('amick/resume.bin')).toBe(sha(data));
  });

  it('sends a part again when the file changed under it (same size), and stores the new bytes', async () => {
    const data = randomBytes(11 * MiB);
    const { file } = await interruptedAfterPart1('changed.bin', data);
    const changed = Buffer.from(data);
    changed.fill(7, 100, 200); // part 1, size unchanged
    await writeFile(file, changed);
    const run = await sluice(['--json', 'upload', file]);
    expect(run.stderr).toContain('part 1 changed since it was sent; sending it again');
    expect(JSON.parse(run.stdout).sha256).toBe(sha(changed));
    expect(await download('amick/changed.bin')).toBe(sha(changed));
  });

  it('fails with a clear message when the stored object does not match the file', async () => {
    // A state that vouches for part 1 although the store holds other bytes: only the final check
    // of the whole object against the file can see it.
    const data = randomBytes(11 * MiB);
    const other = randomBytes(5 * MiB);
    const { file, stateFile, state } = await interruptedAfterPart1('wrong.bin', data, other);
    (state.parts['1'] as { sha256: string }).sha256 = sha(data.subarray(0, 5 * MiB));
    await writeFile(stateFile, JSON.stringify(state));
    await expect(sluice(['upload', file])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(
        /verification failed: amick\/wrong\.bin on the server \(ETag [0-9a-f-]+\) differs from the file/,
      ),
    });
    // The next run starts over and stores the right bytes.
    await sluice(['upload', file]);
    expect(await download('amick/wrong.bin')).toBe(sha(data));
  });

  it('starts an aborted upload over by itself', async () => {
    const data = randomBytes(11 * MiB);
    const { file, plan } = await interruptedAfterPart1('aborted.bin', data);
    await call(
      'DELETE',
      `/api/v1/uploads/${encodeURIComponent(plan.uploadId)}?key=${encodeURIComponent(plan.key)}`,
    );
    const run = await sluice(['upload', file]);
    expect(run.stderr).toContain(`upload ${plan.uploadId} is aborted; starting the upload over`);
    const rows = await uploadRows('amick/aborted.bin');
    expect(rows.map((r) => r.status)).toEqual(['aborted', 'completed']);
    expect(await download('amick/aborted.bin')).toBe(sha(data));
  });

  it('resumes after a real interrupt (killed mid-upload) with a changed part', async () => {
    const file = path.join(stack.tmp, 'killed.bin');
    const data = randomBytes(40 * MiB);
    await writeFile(file, data);
    const stateFile = uploadStateFile(stack.tmp, api, file, 'killed.bin');
    const state = await uploadAndKill({ file, stateFile, env });
    expect(Object.keys(state.parts).length).toBeLessThan(state.plan.partCount);
    const changed = Buffer.from(data);
    changed.fill(1, 10, 20);
    await writeFile(file, changed);
    const run = await sluice(['--json', 'upload', file]);
    expect(run.stderr).toContain('part 1 changed since it was sent');
    expect(JSON.parse(run.stdout).sha256).toBe(sha(changed));
    expect(await download('amick/killed.bin')).toBe(sha(changed));
  });

  it('keeps resume state under one hashed file name inside its uploads folder, whatever the path or name', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (apiUrl, file, name) => {
        const out = uploadStateFile('/state', apiUrl, file, name);
        expect(path.dirname(out)).toBe('/state/uploads');
        expect(path.basename(out)).toMatch(/^[0-9a-f]{64}\.json$/);
      }),
    );
    fc.assert(
      fc.property(
        fc.tuple(fc.string(), fc.string()),
        fc.tuple(fc.string(), fc.string()),
        ([f1, n1], [f2, n2]) => {
          fc.pre(path.resolve(f1) !== path.resolve(f2) || n1 !== n2);
          expect(uploadStateFile('/s', 'a', f1, n1)).not.toBe(uploadStateFile('/s', 'a', f2, n2));
        },
      ),
    );
  });

  it('exits non-zero with the server message on errors', async () => {
    await expect(sluice(['download', 'sam/not-mine.bin'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('outside your prefix'),
    });
    await expect(
      run(process.execPath, ['infra/cli/bin.mjs', 'ls'], {
        env: { PATH: process.env.PATH, SLUICE_STATE_DIR: stack.tmp },
      }),
    ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('no API') });
  });

  it('registers, lists, shows and verifies datasets; lists and shows jobs', async () => {
    const dir = path.join(stack.config.dataRoot, 'amick', 'imgs');
    await mkdir(dir, { recursive: true });
    await copyFile('test/fixtures/tiff/openslide_boxes.tiff', path.join(dir, 'boxes.tiff'));
    await copyFile('test/fixtures/h5ad/anndata_v0.7.8_adata.h5ad', path.join(dir, 'cells.h5ad'));
    const reg = await sluice([
      'register',
      '--backend',
      'data',
      'imgs/boxes.tiff',
      'imgs/cells.h5ad',
      '--id',
      'cli-boxes',
      '--marker',
      'obs_cat',
    ]);
    expect(reg.stdout).toContain('cli-boxes: registered (auto-load on');
    expect((await sluice(['datasets', 'ls'])).stdout).toMatch(/cli-boxes\tamick\ttrue/);
    expect(
      JSON.parse((await sluice(['datasets', 'show', 'cli-boxes'])).stdout).manifest.image.width,
    ).toBe(300);
    expect((await sluice(['datasets', 'verify', 'cli-boxes'])).stdout).toContain('cli-boxes: ok');
    await writeFile(path.join(dir, 'boxes.tiff'), 'changed');
    await expect(sluice(['datasets', 'verify', 'cli-boxes'])).rejects.toMatchObject({
      code: 1,
      stdout: expect.stringContaining('image: stale'),
    });
    const job = await fetch(`${api}/api/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        kind: 'copy',
        storage_backend: 'data',
        input_file: 'imgs/cells.h5ad',
        output_dir: 'out',
      }),
    }).then((r) => r.json() as Promise<{ jobId: number }>);
    expect((await sluice(['jobs', 'ls'])).stdout).toMatch(
      new RegExp(`^${job.jobId}\tcopy\tqueued\tdata`, 'm'),
    );
    expect(JSON.parse((await sluice(['jobs', 'show', String(job.jobId)])).stdout)).toMatchObject({
      id: job.jobId,
      status: 'queued',
    });
  });
});

describe('sluice doctor', () => {
  const stackEnv = () => ({
    JWT_SECRET: 'x',
    DATABASE_URL: stack.databaseUrl,
    MINIO_ENDPOINT: stack.config.s3.endpoint,
    MINIO_ACCESS_KEY: stack.config.s3.accessKey as string,
    MINIO_SECRET_KEY: stack.config.s3.secretKey as string,
    MINIO_BUCKET: stack.bucket,
    AIMINO_DATA_ROOT: stack.config.dataRoot,
  });
  const doctor = (args: string[], extra: NodeJS.ProcessEnv) =>
    run(process.execPath, ['infra/cli/bin.mjs', ...args], {
      env: { PATH: process.env.PATH, ...extra },
    });

  it('passes on a working configuration and names what is broken otherwise', async () => {
    const ok = JSON.parse((await doctor(['--json', 'doctor'], stackEnv())).stdout);
    expect(ok.ok).toBe(true);
    expect(ok.checks.map((c: { check: string }) => c.check)).toEqual([
      'configuration',
      'backend data',
      'postgres',
      'object store',
      'clock skew vs object store',
      'bucket notification target',
    ]);
    const broken = doctor(['doctor'], {
      ...stackEnv(),
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    });
    await expect(broken).rejects.toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/\[ \] postgres: /),
    });
    await expect(doctor(['doctor'], { PORT: 'x' })).rejects.toMatchObject({
      stdout: expect.stringMatching(/\[ \] configuration: .*PORT/),
    });
  });

  it('checks the bucket notification rules on a MinIO-like store', async () => {
    const { createServer } = await import('node:http');
    const rules = (suffixes: string[]) =>
      `<?xml version="1.0" encoding="UTF-8"?><NotificationConfiguration>${suffixes
        .map(
          (s) =>
            `<QueueConfiguration><Id>x</Id><Queue>arn:minio:sqs::sluice:webhook</Queue><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>suffix</Name><Value>${s}</Value></FilterRule></S3Key></Filter></QueueConfiguration>`,
        )
        .join('')}</NotificationConfiguration>`;
    let configured = ['.h5'];
    const fake = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url?.includes('notification'))
          res.writeHead(200, { 'content-type': 'application/xml' }).end(rules(configured));
        else res.writeHead(200, { date: new Date().toUTCString() }).end();
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const env = {
      ...stackEnv(),
      MINIO_ENDPOINT: `127.0.0.1:${(fake.address() as { port: number }).port}`,
    };
    try {
      await expect(doctor(['doctor'], env)).rejects.toMatchObject({
        stdout: expect.stringContaining(
          '[ ] bucket notification target: no webhook rule for .hdf5',
        ),
      });
      configured = ['.h5', '.hdf5'];
      const ok = await doctor(['doctor'], env);
      expect(ok.stdout).toContain('[x] bucket notification target: webhook rules for .h5, .hdf5');
    } finally {
      fake.close();
    }
  });

  it('--compare proves two roots are one physical directory, or says they are not', async () => {
    const real = path.join(stack.tmp, 'prod-root');
    await mkdir(real, { recursive: true });
    await symlink(real, path.join(stack.tmp, 'dev-root'));
    const same = await doctor(['doctor', '--compare', path.join(stack.tmp, 'dev-root'), real], {});
    expect(same.stdout).toContain('[x] same physical directory');
    expect(same.stdout).toContain(
      '[x] a file written through the first is read through the second',
    );
    const other = path.join(stack.tmp, 'elsewhere');
    await mkdir(other);
    await expect(doctor(['doctor', '--compare', real, other], {})).rejects.toMatchObject({
      code: 1,
      stdout: expect.stringContaining('[ ] same physical directory'),
    });
  });

  it('sluice login saves a local account token that later commands use', async () => {
    const admin = await stack.token('root', ['admin']);
    const created = await fetch(`${api}/auth/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'lee', password: 'correct horse' }),
    });
    expect(created.status).toBe(201);
    const state = path.join(stack.tmp, 'lee-state');
    const leeEnv = { PATH: process.env.PATH, SLUICE_API: api, SLUICE_STATE_DIR: state };
    await expect(
      run(
        process.execPath,
        ['infra/cli/bin.mjs', 'login', '--user', 'lee', '--password', 'wrong'],
        { env: leeEnv },
      ),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('Invalid username or password'),
    });
    const ok = await run(process.execPath, ['infra/cli/bin.mjs', 'login', '--user', 'lee'], {
      env: { ...leeEnv, SLUICE_PASSWORD: 'correct horse' },
    });
    expect(ok.stdout).toContain('logged in as lee');
    const file = path.join(state, 'lee.bin');
    await writeFile(file, 'lee data');
    const up = await run(process.execPath, ['infra/cli/bin.mjs', 'upload', file], { env: leeEnv });
    expect(up.stdout.trim()).toBe('lee/lee.bin');
  });

  it('sluice users add|ls|passwd manage local accounts; a saved login refreshes itself; logout ends it', async () => {
    const admin = await stack.token('root', ['admin']);
    const state = path.join(stack.tmp, 'users-state');
    const base = { PATH: process.env.PATH, SLUICE_API: api, SLUICE_STATE_DIR: state };
    const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      run(process.execPath, ['infra/cli/bin.mjs', ...args], { env: { ...base, ...extra } });
    const asAdmin = { SLUICE_TOKEN: admin };
    expect(
      (
        await cli(['users', 'add', 'kim', '--role', 'worker'], {
          ...asAdmin,
          SLUICE_PASSWORD: 'first pass',
        })
      ).stdout,
    ).toContain('created kim (worker)');
    await expect(
      cli(['users', 'add', 'kim', '--password', 'first pass'], asAdmin),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("User 'kim' already exists"),
    });
    await expect(
      cli(['users', 'add', 'shorty', '--password', 'short'], asAdmin),
    ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('password') });
    expect((await cli(['users', 'ls'], asAdmin)).stdout).toMatch(/^kim\tworker\tactive\t/m);
    // Not for non-admins.
    await expect(
      cli(['users', 'ls'], { SLUICE_TOKEN: await stack.token('amick') }),
    ).rejects.toMatchObject({ code: 1 });

    await cli(['login', '--user', 'kim', '--password', 'first pass']);
    const credsFile = path.join(state, 'credentials.json');
    const creds = () => readFile(credsFile, 'utf8').then((t) => JSON.parse(t));
    // An access token about to run out is refreshed before the call, and the new pair saved.
    const first = await creds();
    const nearlyExpired = await mintAccessToken(stack.config.auth, {
      sub: 'kim',
      roles: ['worker'],
      ttlS: 5,
    });
    await writeFile(credsFile, JSON.stringify({ ...first, accessToken: nearlyExpired }));
    const file = path.join(stack.tmp, 'kim.bin');
    await writeFile(file, 'kim data');
    expect((await cli(['upload', file])).stdout.trim()).toBe('kim/kim.bin');
    const second = await creds();
    expect(second.accessToken).not.toBe(nearlyExpired);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    // A token the API refuses (401) is refreshed once and the call retried.
    await writeFile(credsFile, JSON.stringify({ ...second, accessToken: 'not.a.token' }));
    expect((await cli(['ls'])).stdout).toContain('kim/kim.bin');

    // passwd: the new password works, the old one does not, and old sessions end.
    const third = await creds();
    await cli(['users', 'passwd', 'kim', '--password', 'second pass'], asAdmin);
    const refused = await fetch(`${api}/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: third.refreshToken }),
    });
    expect(refused.status).toBe(401);
    await writeFile(credsFile, JSON.stringify({ ...third, accessToken: 'not.a.token' }));
    await expect(cli(['ls'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining(
        'your saved login (kim) has expired and could not be refreshed',
      ),
    });
    await expect(cli(['login', '--user', 'kim', '--password', 'first pass'])).rejects.toMatchObject(
      {
        code: 1,
      },
    );
    await cli(['login', '--user', 'kim', '--password', 'second pass']);
    const last = await creds();
    expect((await cli(['logout'])).stdout).toContain('logged out kim (refresh token revoked)');
    expect(existsSync(credsFile)).toBe(false);
    const revoked = await fetch(`${api}/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: last.refreshToken }),
    });
    expect(revoked.status).toBe(401);
    expect((await cli(['logout'])).stdout).toContain('not logged in');
  }, 180_000);

  it('--compare: a bind mount of one folder is the same directory; missing roots are named, not undefined', async () => {
    const real = path.join(stack.tmp, 'bind-src');
    const bound = path.join(stack.tmp, 'bind-dst');
    await mkdir(real, { recursive: true });
    await mkdir(bound, { recursive: true });
    const missing = await doctor(
      ['doctor', '--compare', '/Volumes/vast', '/mnt/vast-nowhere'],
      {},
    ).catch((e: { stdout: string; code: number }) => e);
    expect(missing.stdout).not.toContain('undefined');
    expect(missing.stdout).toContain('[ ] /Volumes/vast resolves: does not exist');
    expect(missing.stdout).toContain(
      '[-] same physical directory: cannot compare: /Volumes/vast and /mnt/vast-nowhere does not exist (skipped)',
    );
    const mounted = await run('mount', ['--bind', real, bound]).then(
      () => true,
      (e: Error) => e.message,
    );
    if (mounted !== true) {
      console.warn(`bind-mount case skipped: mount --bind is not permitted here (${mounted})`);
      return;
    }
    try {
      const same = await doctor(['doctor', '--compare', real, bound], {});
      expect(same.stdout).toContain('[x] same physical directory:');
      expect(same.stdout).toContain('same device and inode');
      expect(same.stdout).toContain(
        '[x] a file written through the first is read through the second: identical',
      );
    } finally {
      await run('umount', [bound]);
    }
  });

  it('names the real cause of a wrong S3 key and shows a skipped check as skipped', async () => {
    const wrong = await doctor(['doctor'], { ...stackEnv(), MINIO_ACCESS_KEY: 'nobody' }).then(
      (r) => ({ ...r, code: 0 }),
      (e: { stdout: string; code: number }) => e,
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain(
      '[ ] object store: the object store does not know MINIO_ACCESS_KEY (InvalidAccessKeyId)',
    );
    expect(wrong.stdout).not.toContain('UnknownError');
    const ok = await doctor(['doctor'], stackEnv());
    expect(ok.stdout).toMatch(/\[-\] bucket notification target: not readable .*\(skipped\)/);
    const json = JSON.parse((await doctor(['--json', 'doctor'], stackEnv())).stdout);
    expect(
      json.checks.find((c: { check: string }) => c.check === 'bucket notification target'),
    ).toMatchObject({
      ok: true,
      skipped: true,
    });
  });
});
