import { describe, expect, it } from 'vitest';
import { createPresignApp } from '../../functions/presign/app.ts';
import { mintAccessToken } from '../../shared/auth/jwt.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { silentLogger } from '../../shared/log/logger.ts';
import { s3SdkLoaded } from '../../shared/object-store/s3-sdk.ts';
import { createServices } from '../../shared/services.ts';

// The AWS SDK is the largest part of a bundle; a cold start and a presign request must not pay for it.
describe('the AWS SDK loads on first use', () => {
  it('is not loaded by starting the presign function, /healthz, presigned uploads or downloads', async () => {
    const config = parseConfig({
      JWT_SECRET: 'unit-secret',
      MINIO_ACCESS_KEY: 'a',
      MINIO_SECRET_KEY: 'b',
      MINIO_ENDPOINT: 'http://127.0.0.1:9',
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

    // The first call that talks to the store loads it.
    await services.s3.internal.client();
    expect(s3SdkLoaded()).toBe(true);
    await services.close();
  });
});
