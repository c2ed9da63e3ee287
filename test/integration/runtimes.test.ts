import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { SignJWT } from 'jose';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPresignApp } from '../../functions/presign/app.ts';
import { mintAccessToken } from '../../shared/auth/jwt.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { silentLogger } from '../../shared/log/logger.ts';
import { createPresigner } from '../../shared/object-store/presigner.ts';
import { createServices } from '../../shared/services.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
// One environment for both runtimes: Node parses it into its Config, workerd gets it as bindings.
const baseEnv = () => ({
  JWT_SECRET: stack.config.auth.jwtSecret as string,
  MINIO_ENDPOINT: inject('s3Endpoint'),
  MINIO_ACCESS_KEY: inject('s3AccessKey'),
  MINIO_SECRET_KEY: inject('s3SecretKey'),
  MINIO_BUCKET: stack.bucket,
  MINIO_OBJECT_PREFIX: 'uploads/',
  SLUICE_JWT_ISSUER: 'https://idp.lab.example.org',
  SLUICE_JWT_AUDIENCE: 'sluice',
  LOG_LEVEL: 'silent',
});
beforeAll(async () => {
  stack = await createTestStack({
    MINIO_OBJECT_PREFIX: 'uploads/',
    MINIO_PUBLIC_ENDPOINT: 'https://s3.lab.example.org',
  });
});
afterAll(() => stack.close());

let workerCode: string;
async function workerBundle(): Promise<string> {
  if (workerCode) return workerCode;
  const out = await build({
    entryPoints: ['functions/runtimes/workers.ts'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['worker', 'browser'],
    write: false,
    minify: true,
    logLevel: 'silent',
  });
  workerCode = out.outputFiles[0]?.text as string;
  return workerCode;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}
type Call = (method: string, path: string, token?: string, body?: unknown) => Promise<Answer>;

/** The same request through the Node presign function (app.request) and through workerd. */
async function bothRuntimes(env: Record<string, string>, fixedNow: string) {
  const services = createServices(parseConfig(env), {
    log: silentLogger,
    db: stack.services.db,
    s3: stack.services.s3,
  });
  const node = createPresignApp(services);
  const mf = new Miniflare({
    modules: true,
    script: await workerBundle(),
    compatibilityDate: '2024-09-23',
    bindings: { ...env, SLUICE_FIXED_NOW: fixedNow },
  });
  const init = (method: string, token?: string, body?: unknown) => ({
    method,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const read = async (res: { status: number; json(): Promise<unknown> }) => ({
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
  });
  const viaNode: Call = async (m, p, t, b) => read(await node.request(p, init(m, t, b)));
  const viaWorker: Call = async (m, p, t, b) =>
    read(await mf.dispatchFetch(`http://worker${p}`, init(m, t, b)));
  return { viaNode, viaWorker, services, close: () => mf.dispose() };
}

const strip = (u: unknown) =>
  String(u).replace(/X-Amz-Date=[^&]+|X-Amz-Signature=[^&]+|X-Amz-Credential=[^&]+/g, '');
const encoder = new TextEncoder();

describe('Cloudflare Workers runtime (workerd via miniflare) and Node run one presign core', () => {
  it('bundles without Node built-ins and signs the URL the Node presigner gives for the same inputs', async () => {
    const code = await workerBundle();
    expect(code).not.toMatch(/from\s*"node:|require\("node:/);
    const fixedNow = '2026-11-22T10:20:30.000Z';
    const env = { ...baseEnv(), MINIO_PUBLIC_ENDPOINT: 'https://s3.lab.example.org' };
    const rt = await bothRuntimes(env, fixedNow);
    try {
      const token = await mintAccessToken(rt.services.config.auth, { sub: 'amick' });
      const w = await rt.viaWorker('POST', '/api/v1/uploads', token, {
        name: 'run 1/data+x.h5',
        size: 100,
      });
      expect(w.status).toBe(200);
      expect(w.body.key).toBe('uploads/amick/run 1/data+x.h5');
      const nodeUrl = createPresigner({
        endpoint: env.MINIO_PUBLIC_ENDPOINT,
        region: 'us-east-1',
        accessKeyId: env.MINIO_ACCESS_KEY,
        secretAccessKey: env.MINIO_SECRET_KEY,
      }).presign({
        method: 'PUT',
        bucket: stack.bucket,
        key: w.body.key as string,
        expiresIn: 1800,
        now: new Date(fixedNow),
      });
      expect(w.body.url).toBe(nodeUrl);
      expect(w.body.expiresAt).toBe('2026-11-22T10:50:30.000Z');
    } finally {
      await rt.close();
    }
  }, 60_000);

  it('gives the same answer to the same tokens in both runtimes (issue 19.6)', async () => {
    const rt = await bothRuntimes(
      { ...baseEnv(), MINIO_PUBLIC_ENDPOINT: 'https://s3.lab.example.org' },
      new Date().toISOString(),
    );
    try {
      const auth = rt.services.config.auth;
      const secret = encoder.encode(auth.jwtSecret as string);
      const user = await mintAccessToken(auth, { sub: 'amick' });
      const minted = await rt.viaNode('POST', '/api/v1/bucket-token', user, {
        prefix: 'shared',
        ops: ['read'],
      });
      expect(minted.status).toBe(200);
      const readOnly = minted.body.token as string;
      const signed = (claims: Record<string, unknown>, exp: string | number | undefined) => {
        let jwt = new SignJWT({ typ: 'access', roles: [], ...claims })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('amick')
          .setIssuedAt();
        if (exp !== undefined) jwt = jwt.setExpirationTime(exp);
        return jwt.sign(secret);
      };
      const iss = { iss: 'https://idp.lab.example.org', aud: 'sluice' };
      const up = (name: string) => ({ name, size: 1 });
      const cases: [string, string, string, string | undefined, unknown, number, string?][] = [
        ['user token', 'POST', '/api/v1/uploads', user, up('a.h5'), 200],
        ['no token', 'POST', '/api/v1/uploads', undefined, up('a.h5'), 401, 'missing_token'],
        // A read-only bucket token for uploads/amick/shared/ is not a user token.
        ['bucket token PUT', 'POST', '/api/v1/uploads', readOnly, up('x.h5'), 403],
        [
          'bucket token GET inside',
          'GET',
          '/api/v1/downloads?key=uploads/amick/shared/x.h5',
          readOnly,
          undefined,
          200,
        ],
        [
          'bucket token GET outside',
          'GET',
          '/api/v1/downloads?key=uploads/amick/elsewhere/x.h5',
          readOnly,
          undefined,
          403,
        ],
        ['bucket token mints', 'POST', '/api/v1/bucket-token', readOnly, { ops: ['write'] }, 403],
        [
          'wrong issuer',
          'POST',
          '/api/v1/uploads',
          await signed({ iss: 'https://evil.example', aud: 'sluice' }, '5m'),
          up('a.h5'),
          401,
          'bad_claims',
        ],
        [
          'wrong audience',
          'POST',
          '/api/v1/uploads',
          await signed({ ...iss, aud: 'other' }, '5m'),
          up('a.h5'),
          401,
          'bad_claims',
        ],
        [
          'no exp',
          'POST',
          '/api/v1/uploads',
          await signed(iss, undefined),
          up('a.h5'),
          401,
          'bad_claims',
        ],
        [
          'lifetime over the maximum',
          'POST',
          '/api/v1/uploads',
          await signed(iss, '2d'),
          up('a.h5'),
          401,
          'bad_claims',
        ],
        ['traversal', 'POST', '/api/v1/uploads', user, up('../x'), 400],
        ['format character', 'POST', '/api/v1/uploads', user, up('a\u202Eb.h5'), 400],
        ['multipart on workers', 'POST', '/api/v1/uploads', user, { name: 'b', size: 2e8 }, -1],
      ];
      for (const [label, method, path, token, body, status, reason] of cases) {
        const n = await rt.viaNode(method, path, token, body);
        const w = await rt.viaWorker(method, path, token, body);
        if (status === -1) {
          // The one documented difference: Workers cannot plan multipart uploads.
          expect(n.status, label).toBe(200);
          expect(w.status, label).toBe(400);
          continue;
        }
        expect([n.status, w.status], label).toEqual([status, status]);
        expect(w.body.code, label).toBe(n.body.code);
        if (reason) {
          expect((n.body.details as { reason?: string })?.reason, label).toBe(reason);
          expect((w.body.details as { reason?: string })?.reason, label).toBe(reason);
        }
        if (status === 200) {
          expect(w.body.key, label).toBe(n.body.key);
          expect(strip(w.body.url), label).toBe(strip(n.body.url));
        }
      }
      // A hostile sub gets the same encoded folder in both.
      const hostile = await mintAccessToken(auth, { sub: 'x/../bob' });
      const n = await rt.viaNode('POST', '/api/v1/uploads', hostile, up('secret.h5'));
      const w = await rt.viaWorker('POST', '/api/v1/uploads', hostile, up('secret.h5'));
      expect([n.body.key, w.body.key]).toEqual([
        'uploads/x%2F..%2Fbob/secret.h5',
        'uploads/x%2F..%2Fbob/secret.h5',
      ]);
    } finally {
      await rt.close();
    }
  }, 60_000);

  it('reads MINIO_PUBLIC_ENDPOINT the same way in both runtimes (issue 19.6)', async () => {
    const cases: [Record<string, string>, string][] = [
      [
        { MINIO_PUBLIC_ENDPOINT: 'https://s3.lab.example.org/minio/' },
        'https://s3.lab.example.org/',
      ],
      [{ MINIO_PUBLIC_ENDPOINT: 's3.lab.example.org:9000' }, 'http://s3.lab.example.org:9000/'],
      [
        { MINIO_PUBLIC_ENDPOINT: 's3.lab.example.org:9000', MINIO_SECURE: 'true' },
        'https://s3.lab.example.org:9000/',
      ],
    ];
    for (const [extra, origin] of cases) {
      const rt = await bothRuntimes({ ...baseEnv(), ...extra }, new Date().toISOString());
      try {
        const token = await mintAccessToken(rt.services.config.auth, { sub: 'amick' });
        const n = await rt.viaNode('GET', '/api/v1/downloads?key=uploads/amick/a.h5', token);
        const w = await rt.viaWorker('GET', '/api/v1/downloads?key=uploads/amick/a.h5', token);
        const label = JSON.stringify(extra);
        expect(n.body.url as string, label).toMatch(
          new RegExp(`^${origin}${stack.bucket}/uploads/amick/a\\.h5\\?`),
        );
        expect(strip(w.body.url), label).toBe(strip(n.body.url));
      } finally {
        await rt.close();
      }
    }
  }, 90_000);
});

describe('Vercel runtime', () => {
  it('serves the function through a Node request listener', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/vercel-host.ts'], {
      env: {
        PATH: process.env.PATH,
        JWT_SECRET: 'x',
        MINIO_ACCESS_KEY: 'a',
        MINIO_SECRET_KEY: 'b',
        SLUICE_FUNCTION: 'presign',
        LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const line = await new Promise<string>((r) =>
        createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', r),
      );
      const { port } = JSON.parse(line) as { port: number };
      expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toEqual({
        status: 'ok',
        function: 'presign',
      });
      expect(
        (await fetch(`http://127.0.0.1:${port}/api/v1/uploads`, { method: 'POST' })).status,
      ).toBe(401);
    } finally {
      child.kill();
    }
  }, 30_000);
});
