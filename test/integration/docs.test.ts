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
