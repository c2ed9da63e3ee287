import { describe, expect, it } from 'vitest';
import { createPresignApp } from '../../functions/presign/app.ts';
import { mintAccessToken } from '../../shared/auth/jwt.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { silentLogger } from '../../shared/log/logger.ts';
import { metricsRegistryLoaded } from '../../shared/metrics/registry.ts';
import { s3SdkLoaded } from '../../shared/object-store/s3-sdk.ts';
import { createServices } from '../../shared/services.ts';

// The AWS SDK is the largest part of a bundle, and prom-client and pg cost several ms each to load: a
// cold start and a presign request must not pay for them.
describe('the AWS SDK, prom-client and the Postgres pool load on first use', () => {
  it('none is loaded by starting the presign function, /healthz, presigned uploads or downloads', async () => {
    const config = parseConfig({
      JWT_SECRET: 'unit-secret',
      MINIO_ACCESS_KEY: 'a',
      MINIO_SECRET_KEY: 'b',
      MINIO_ENDPOINT: 'http://127.0.0.1:9',
      DATABASE_URL: 'postgres://sluice@127.0.0.1:9/sluice',
      SLUICE_METRICS_TOKEN: 'unit-scrape',
    });
    const services = createServices(config, { log: silentLogger });
    const app = createPresignApp(services);
    const token = await mintAccessToken({ jwtSecret: 'unit-secret' }, { sub: 'amick', ttlS: 60 });
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    expect((await app.request('/healthz')).status).toBe(200);
    const up = await app.request('/api/v1/uploads', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'a/b.h5', size: 10 }),
    });
    expect(up.status).toBe(200);
    expect(((await up.json()) as { method: string }).method).toBe('PUT');
    const down = await app.request(`/api/v1/downloads?key=${encodeURIComponent('amick/a/b.h5')}`, {
      headers: auth,
    });
    expect(down.status).toBe(200);
    expect(s3SdkLoaded()).toBe(false);
    expect(metricsRegistryLoaded()).toBe(false);
    expect(services.dbIfCreated).toBeUndefined();

    // The first scrape loads prom-client and shows what was recorded before it.
    const metrics = await (
      await app.request('/metrics', { headers: { authorization: 'Bearer unit-scrape' } })
    ).text();
    expect(metricsRegistryLoaded()).toBe(true);
    expect(metrics).toContain('sluice_presigns_total{method="PUT"} 1');
    expect(metrics).toContain('sluice_presigns_total{method="GET"} 1');
    expect(metrics).toMatch(
      /sluice_http_request_duration_seconds_count\{[^}]*route="\/healthz"[^}]*\} 1/,
    );
    expect(metrics).toContain('sluice_process_cpu_user_seconds_total');

    // The first call that talks to the store loads it.
    await services.s3.internal.client();
    expect(s3SdkLoaded()).toBe(true);
    // The first query creates the pool (nothing listens on port 9, so it fails: that is fine here).
    await expect(services.db.query('SELECT 1')).rejects.toThrow();
    expect(services.dbIfCreated).toBeDefined();
    await services.close();
  });
});
