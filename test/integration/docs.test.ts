import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/registry.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(() => stack.close());

/** Routes of the shell that are not API operations. */
const exempt = new Set([
  '/healthz',
  '/readyz',
  '/openapi.json',
  '/docs',
  '/metrics',
  '/ui',
  '/minio-event:get',
]);

describe('API documentation', () => {
  it('documents every route of every function in /openapi.json, and serves a docs page at /docs', async () => {
    const app = createApp('all', stack.services);
    const doc = (await (await app.request('/openapi.json')).json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    const documented = new Set<string>();
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops))
        documented.add(`${p.replace(/\{([^}]+)\}/g, ':$1')}:${method}`);
    }
    const missing: string[] = [];
    for (const r of app.routes) {
      if (r.method === 'ALL') continue;
      const key = `${r.path}:${r.method.toLowerCase()}`;
      if (exempt.has(r.path) || exempt.has(key) || r.path === '/api/v1/storage/backends') continue;
      if (!documented.has(key)) missing.push(key);
    }
    expect(missing).toEqual([]);
    expect(documented.size).toBeGreaterThan(25);
    const ui = await app.request('/docs');
    expect(ui.status).toBe(200);
    const html = await ui.text();
    expect(html).toContain('/openapi.json');
    expect(html).toContain('/api/v1/uploads');
  });
});

describe('presign response schemas', () => {
  it('every presign operation declares its success body and its error bodies with real shapes', async () => {
    const doc = (await (
      await createApp('presign', stack.services).request('/openapi.json')
    ).json()) as {
      paths: Record<
        string,
        Record<
          string,
          {
            responses: Record<
              string,
              { content?: Record<string, { schema: Record<string, unknown> }> }
            >;
          }
        >
      >;
    };
    const ops = Object.entries(doc.paths).flatMap(([p, byMethod]) =>
      Object.entries(byMethod).map(([m, op]) => ({ name: `${m} ${p}`, op })),
    );
    expect(ops.length).toBeGreaterThanOrEqual(17);
    for (const { name, op } of ops) {
      const statuses = Object.keys(op.responses);
      expect(
        statuses.some((s) => s.startsWith('2')),
        name,
      ).toBe(true);
      expect(
        statuses.some((s) => s.startsWith('4')),
        name,
      ).toBe(true);
      for (const [status, res] of Object.entries(op.responses)) {
        const schema = res.content?.['application/json']?.schema;
        expect(schema, `${name} ${status}`).toBeDefined();
        // A placeholder is an object schema without properties; a union lists its members; a list
        // (Uppy's list of parts) has shaped items; an answer that is deliberately empty (Uppy's abort)
        // says so with additionalProperties: false.
        const shaped =
          schema?.properties ??
          schema?.anyOf ??
          schema?.oneOf ??
          (schema?.items as { properties?: unknown } | undefined)?.properties ??
          (schema?.additionalProperties === false ? {} : undefined);
        expect(shaped, `${name} ${status} has no declared shape`).toBeDefined();
        if (status.startsWith('4'))
          expect(Object.keys(schema?.properties as object)).toEqual(
            expect.arrayContaining(['statusCode', 'code', 'error', 'message']),
          );
      }
    }
  });
});
