import { watch } from 'node:fs';
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
    const res = await app.request('/api/v1/storage/backends', {
      headers: { authorization: `Bearer ${await stack.token('amick')}` },
    });
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

describe('storage backends: names for anyone, health for users, probes bounded', () => {
  /** Names of the probe files written into `dir` while `run` runs (inotify sees each one). */
  async function probeWrites(dir: string, run: () => Promise<void>): Promise<Set<string>> {
    const seen = new Set<string>();
    const watcher = watch(dir, (_event, name) => {
      if (name?.startsWith('.sluice-probe-')) seen.add(name);
    });
    try {
      await run();
      // Bounded wait for the last events to arrive.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      watcher.close();
    }
    return seen;
  }
  const get = (app: ReturnType<typeof createFunctionApp>, token?: string) =>
    app.request('/api/v1/storage/backends', {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });

  it('answers anonymous callers with names only and writes nothing for them', async () => {
    const app = createFunctionApp('test', stack.services);
    let bodies: unknown[] = [];
    const writes = await probeWrites(stack.config.dataRoot, async () => {
      const answers = await Promise.all(Array.from({ length: 20 }, () => get(app)));
      expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
      bodies = await Promise.all(answers.map((r) => r.json()));
    });
    expect(writes.size).toBe(0);
    const first = bodies[0] as { backends: Record<string, unknown>[] };
    expect(first.backends.map((b) => b.name)).toContain('data');
    for (const b of first.backends) expect(Object.keys(b)).toEqual(['name']);
    // A bad token is refused, not treated as anonymous.
    expect((await get(app, 'not-a-token')).status).toBe(401);
  });

  it('probes each backend once per TTL for signed-in callers, however often they ask', async () => {
    const ttl = await createTestStack({ SLUICE_STORAGE_HEALTH_TTL_S: '2' });
    try {
      const app = createFunctionApp('test', ttl.services);
      const token = await ttl.token('amick');
      const burst = () =>
        Promise.all(Array.from({ length: 10 }, () => get(app, token))).then((rs) =>
          expect(rs.map((r) => r.status)).toEqual(Array(10).fill(200)),
        );
      const first = await probeWrites(ttl.config.dataRoot, async () => {
        await burst();
        await burst();
      });
      expect(first.size).toBe(1);
      // After the TTL the health is probed again, once.
      await new Promise((r) => setTimeout(r, 2100));
      const second = await probeWrites(ttl.config.dataRoot, burst);
      expect(second.size).toBe(1);
      expect([...second][0]).not.toBe([...first][0]);
    } finally {
      await ttl.close();
    }
  });
});
