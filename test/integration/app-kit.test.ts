import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/free-port.ts';
import { createPool } from '../../shared/db/pool.ts';
import { createFunctionApp, createRouter } from '../../shared/http/app-kit.ts';
import * as z from '../../shared/validation/zod.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(() => stack.close());

describe('function app shell', () => {
  it('answers /healthz and /readyz against real Postgres and S3', async () => {
    const app = createFunctionApp('test', stack.services);
    expect((await app.request('/healthz')).status).toBe(200);
    const ready = await app.request('/readyz');
    const body = (await ready.json()) as {
      status: string;
      checks: Record<string, { ok: boolean }>;
    };
    expect(ready.status).toBe(200);
    expect(body.checks.postgres?.ok).toBe(true);
    expect(body.checks.objectStore?.ok).toBe(true);
  });

  it('reports not ready with 503 when the bucket is missing', async () => {
    const services = {
      ...stack.services,
      s3: { ...stack.services.s3, bucket: 'no-such-bucket-x' },
    };
    const app = createFunctionApp('test', services as typeof stack.services);
    const res = await app.request('/readyz');
    expect(res.status).toBe(503);
    const body = (await res.json()) as { checks: Record<string, { ok: boolean }> };
    expect(body.checks.objectStore?.ok).toBe(false);
    expect(body.checks.postgres?.ok).toBe(true);
  });

  it('names why a dependency is not ready by code, and logs the failure once while it lasts', async () => {
    const port = await freePort(); // nothing listens there
    const db = createPool({ url: `postgres://nobody@127.0.0.1:${port}/none` });
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const app = createFunctionApp('test', { ...stack.services, db, log } as typeof stack.services);
    try {
      for (let i = 0; i < 3; i++) {
        const res = await app.request('/readyz');
        expect(res.status).toBe(503);
        const body = (await res.json()) as {
          checks: Record<string, { ok: boolean; error?: string }>;
        };
        expect(body.checks.postgres).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
        expect(body.checks.objectStore?.ok).toBe(true);
        // The public answer names no host or port.
        expect(JSON.stringify(body)).not.toContain(String(port));
      }
      const warnings = lines.map((l) => JSON.parse(l)).filter((l) => l.check === 'postgres');
      expect(warnings).toHaveLength(1);
      expect(warnings[0].level).toBe(40);
      expect(warnings[0].err.message).toContain(String(port));
    } finally {
      await db.end();
    }
  });

  it('renders validation failures as one 400 naming every bad field', async () => {
    const app = createFunctionApp('test', stack.services);
    const router = createRouter();
    router.openapi(
      {
        method: 'post',
        path: '/thing',
        request: {
          body: {
            content: {
              'application/json': {
                schema: z.object({ name: z.string(), size: z.number().check(z.int()) }),
              },
            },
          },
        },
        responses: { 200: { description: 'ok' } },
      },
      (c) => c.json({ ok: true }, 200),
    );
    app.route('/', router);
    const res = await app.request('/thing', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ size: 'big' }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      statusCode: number;
      code: string;
      error: string;
      message: string;
    };
    expect(body).toMatchObject({
      statusCode: 400,
      code: 'VALIDATION_FAILED',
      error: 'Bad Request',
    });
    expect(body.message).toContain('name');
    expect(body.message).toContain('size');
  });

  it('hides unexpected errors behind a generic 500 without a stack trace', async () => {
    const app = createFunctionApp('test', stack.services);
    app.get('/boom', () => {
      throw new Error('secret internals at /srv/x.ts:12');
    });
    const res = await app.request('/boom');
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain('secret internals');
    expect(text).not.toContain('.ts:');
  });

  it('lists storage backends without secrets', async () => {
    const app = createFunctionApp('test', stack.services);
    const res = await app.request('/api/v1/storage/backends');
    const body = (await res.json()) as {
      backends: { name: string; health: { exists: boolean; writable: boolean } }[];
    };
    expect(res.status).toBe(200);
    const data = body.backends.find((b) => b.name === 'data');
    expect(data?.health.exists).toBe(true);
    expect(data?.health.writable).toBe(true);
    expect(JSON.stringify(body)).not.toContain(stack.config.s3.secretKey as string);
  });
});
