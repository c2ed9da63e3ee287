import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/registry.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { silentLogger } from '../../shared/log/logger.ts';
import { createServices } from '../../shared/services.ts';
import { minioBody, postEvent, putObject } from '../helpers/events.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(() => stack.close());

const metricValue = (text: string, name: string, labels: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').at(-1)) : 0;
};

const scrape = { headers: { authorization: 'Bearer test-metrics-token' } };

describe('/metrics', () => {
  it('answers only Prometheus with SLUICE_METRICS_TOKEN, and nobody when it is unset (issue 19.15)', async () => {
    const app = createApp('all', stack.services);
    const reason = async (init?: RequestInit) => {
      const res = await app.request('/metrics', init);
      const body = (await res.json()) as { details?: { reason?: string } };
      return [res.status, body.details?.reason];
    };
    expect(await reason()).toEqual([401, 'missing_token']);
    expect(await reason({ headers: { authorization: 'Bearer wrong' } })).toEqual([
      401,
      'bad_token',
    ]);
    // A user's access token is not a scrape token either.
    const user = await stack.token('amick', ['admin']);
    expect(await reason({ headers: { authorization: `Bearer ${user}` } })).toEqual([
      401,
      'bad_token',
    ]);
    expect((await app.request('/metrics', scrape)).status).toBe(200);
    const unset = createApp(
      'all',
      createServices(parseConfig({ JWT_SECRET: 'x', LOG_LEVEL: 'silent' }), {
        log: silentLogger,
        db: stack.services.db,
      }),
    );
    const res = await unset.request('/metrics', scrape);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { details?: { reason?: string } }).details?.reason).toBe(
      'not_configured',
    );
  });

  it('exposes request durations by route and status, presigns, ingest rows and jobs in Prometheus format', async () => {
    const app = createApp('all', stack.services);
    const token = await stack.token('amick');
    const before = await (await app.request('/metrics', scrape)).text();
    const up = await app.request('/api/v1/uploads', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'm.h5', size: 1 }),
    });
    expect(up.status).toBe(200);
    const etag = await putObject(stack, 'amick/m.h5', 'test/fixtures/hdf5/pytables_itemsize.h5');
    expect((await postEvent(app, minioBody(stack.bucket, 'amick/m.h5', etag))).status).toBe(200);
    const res = await app.request('/metrics', scrape);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(
      metricValue(text, 'sluice_presigns_total', 'method="PUT"') -
        metricValue(before, 'sluice_presigns_total', 'method="PUT"'),
    ).toBe(1);
    expect(
      metricValue(text, 'sluice_ingest_rows_total', 'pipeline="tables"') -
        metricValue(before, 'sluice_ingest_rows_total', 'pipeline="tables"'),
    ).toBe(3);
    expect(
      metricValue(text, 'sluice_ingest_outcomes_total', 'status="done"'),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(
      /sluice_http_request_duration_seconds_count\{[^}]*route="\/api\/v1\/uploads"[^}]*status="200"/,
    );
    expect(text).toMatch(/sluice_pg_pool_connections\{state="total"\} \d+/);
    expect(text).toContain('sluice_process_resident_memory_bytes');
  });
});
