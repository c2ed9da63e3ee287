import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/registry.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

const LISTED = 'http://lab.example.test:5173';
const OTHER = 'http://evil.example.test';
let stack: TestStack;
let app: ReturnType<typeof createApp>;
let token: string;

beforeAll(async () => {
  stack = await createTestStack({ SLUICE_CORS_ORIGINS: `${LISTED}, http://second.example.test` });
  app = createApp('all', stack.services);
  token = await stack.token('amick');
}, 60_000);
afterAll(() => stack.close());

const preflight = (origin: string, path = '/api/v1/uploads', method = 'POST') =>
  app.request(path, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'authorization, content-type',
    },
  });

describe('CORS allow-list (SLUICE_CORS_ORIGINS)', () => {
  it('answers a listed origin’s preflight with its origin, methods, headers and credentials', async () => {
    const res = await preflight(LISTED);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(LISTED);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(res.headers.get('access-control-allow-headers')).toContain('content-type');
    expect(res.headers.get('access-control-max-age')).toBe('600');
    expect(res.headers.get('vary')).toContain('Origin');
  });

  it('refuses an unlisted origin’s preflight with no CORS header at all', async () => {
    const res = await preflight(OTHER);
    expect(res.status).toBe(403);
    expect((await res.json()).message).toContain('SLUICE_CORS_ORIGINS');
    for (const h of ['allow-origin', 'allow-credentials', 'allow-methods', 'expose-headers'])
      expect(res.headers.get(`access-control-${h}`)).toBeNull();
  });

  it('exposes ETag, Retry-After, Content-Range to a listed origin on real answers and errors', async () => {
    const ok = await app.request('/api/v1/uploads', {
      method: 'POST',
      headers: {
        origin: LISTED,
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ name: 'cors/a.h5', size: 10 }),
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(LISTED);
    const exposed = (ok.headers.get('access-control-expose-headers') ?? '')
      .toLowerCase()
      .split(',');
    for (const h of ['etag', 'retry-after', 'content-range', 'x-request-id'])
      expect(exposed).toContain(h);
    // A refusal is readable by the listed page too (it can show the reason).
    const denied = await app.request('/api/v1/uploads', {
      method: 'POST',
      headers: { origin: LISTED, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('access-control-allow-origin')).toBe(LISTED);
    expect(denied.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it('gives an unlisted origin and a request without Origin no CORS headers (credentials never)', async () => {
    for (const headers of [{ origin: OTHER }, {}] as Record<string, string>[]) {
      const res = await app.request('/healthz', { headers });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });

  it('is off by default and refuses a malformed list by name', async () => {
    const base = { JWT_SECRET: 'x', DATABASE_URL: 'postgres://u@h/d' };
    expect(parseConfig(base).cors.origins).toEqual([]);
    expect(
      parseConfig({ ...base, SLUICE_CORS_ORIGINS: ' https://a.org ,http://b:81' }).cors.origins,
    ).toEqual(['https://a.org', 'http://b:81']);
    for (const bad of ['https://a.org/path', '*', 'a.org', 'https://a.org,,https://b.org'])
      expect(() => parseConfig({ ...base, SLUICE_CORS_ORIGINS: bad })).toThrow(
        /SLUICE_CORS_ORIGINS/,
      );
  });
});
