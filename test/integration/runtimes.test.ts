import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { SignJWT } from 'jose';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPresignApp } from '../../functions/presign/app.ts';
import { createPresigner } from '../../shared/object-store/presigner.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack({
    MINIO_OBJECT_PREFIX: 'uploads/',
    MINIO_PUBLIC_ENDPOINT: 'https://s3.lab.example.org',
  });
});
afterAll(() => stack.close());

describe('Cloudflare Workers runtime (workerd via miniflare)', () => {
  it('answers a presign request inside workerd with the URL the Node presigner gives for the same inputs', async () => {
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
    const code = out.outputFiles[0]?.text as string;
    expect(code).not.toMatch(/from\s*"node:|require\("node:/);
    const fixedNow = '2026-11-22T10:20:30.000Z';
    const bindings = {
      JWT_SECRET: stack.config.auth.jwtSecret as string,
      MINIO_PUBLIC_ENDPOINT: stack.config.s3.publicEndpoint,
      MINIO_ACCESS_KEY: stack.config.s3.accessKey as string,
      MINIO_SECRET_KEY: stack.config.s3.secretKey as string,
      MINIO_BUCKET: stack.bucket,
      MINIO_OBJECT_PREFIX: 'uploads/',
      SLUICE_FIXED_NOW: fixedNow,
    };
    const mf = new Miniflare({
      modules: true,
      script: code,
      compatibilityDate: '2024-09-23',
      bindings,
    });
    try {
      expect(await (await mf.dispatchFetch('http://worker/healthz')).json()).toMatchObject({
        status: 'ok',
        runtime: 'workers',
      });
      const token = await new SignJWT({ roles: [], typ: 'access' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('amick')
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode(bindings.JWT_SECRET));
      const res = await mf.dispatchFetch('http://worker/api/v1/uploads', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'run 1/data+x.h5', size: 100 }),
      });
      const body = (await res.json()) as { url: string; key: string; expiresAt: string };
      expect(res.status).toBe(200);
      expect(body.key).toBe('uploads/amick/run 1/data+x.h5');
      const nodeUrl = createPresigner({
        endpoint: bindings.MINIO_PUBLIC_ENDPOINT,
        region: 'us-east-1',
        accessKeyId: bindings.MINIO_ACCESS_KEY,
        secretAccessKey: bindings.MINIO_SECRET_KEY,
      }).presign({
        method: 'PUT',
        bucket: stack.bucket,
        key: body.key,
        expiresIn: 1800,
        now: new Date(fixedNow),
      });
      expect(body.url).toBe(nodeUrl);
      // The Node function signs the same request (its time is now, so the date-bound parts differ).
      const nodeRes = await createPresignApp(stack.services).request('/api/v1/uploads', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'run 1/data+x.h5', size: 100 }),
      });
      const nodeBody = (await nodeRes.json()) as { url: string; key: string };
      const strip = (u: string) =>
        u.replace(/X-Amz-Date=[^&]+|X-Amz-Signature=[^&]+|X-Amz-Credential=[^&]+/g, '');
      expect(nodeBody.key).toBe(body.key);
      expect(strip(nodeBody.url)).toBe(strip(body.url));
      expect(
        (await mf.dispatchFetch('http://worker/api/v1/uploads', { method: 'POST', body: '{}' }))
          .status,
      ).toBe(401);
      const traversal = await mf.dispatchFetch('http://worker/api/v1/uploads', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify({ name: '../x', size: 1 }),
      });
      expect(traversal.status).toBe(400);
    } finally {
      await mf.dispose();
    }
  }, 60_000);
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
