import { GetObjectCommand } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/registry.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let app: ReturnType<typeof createApp>;
let amick: string;
const S3 = '/api/v1/uppy/s3';

beforeAll(async () => {
  stack = await createTestStack({ BUCKET_TOKEN_SECRET: 'uppy-bucket-token-secret-0123456789' });
  app = createApp('all', stack.services);
  amick = await stack.token('amick');
}, 60_000);
afterAll(() => stack.close());

const call = (path: string, init: RequestInit & { token?: string | null } = {}) => {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
  const token = init.token === undefined ? amick : init.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.body) headers['content-type'] = 'application/json';
  return app.request(path, { ...init, headers });
};
const q = (o: Record<string, string>) => new URLSearchParams(o).toString();

describe('Uppy (Companion S3 protocol) routes', () => {
  it('runs a whole multipart upload: create, sign one and a batch, list, complete; bytes land in your folder', async () => {
    const created = await call(`${S3}/multipart`, {
      method: 'POST',
      body: JSON.stringify({
        filename: 'runs/big.h5',
        type: 'application/x-hdf5',
        metadata: { name: 'big.h5' },
      }),
    });
    expect(created.status).toBe(200);
    const { key, uploadId, bucket } = await created.json();
    expect(key).toBe('amick/runs/big.h5');
    expect(bucket).toBe(stack.bucket);
    const one = await call(`${S3}/multipart/${encodeURIComponent(uploadId)}/1?${q({ key })}`);
    expect(one.status).toBe(200);
    const signed = await one.json();
    expect(signed.expires).toBe(stack.config.presign.ttlS);
    const batch = await call(
      `${S3}/multipart/${encodeURIComponent(uploadId)}/batch?${q({ key, partNumbers: '1,2' })}`,
    );
    expect(batch.status).toBe(200);
    const { presignedUrls } = await batch.json();
    expect(Object.keys(presignedUrls)).toEqual(['1', '2']);
    const part1 = new Uint8Array(5 * 1024 * 1024).fill(7);
    const part2 = new TextEncoder().encode('tail');
    const etags: string[] = [];
    for (const [url, body] of [
      [signed.url, part1],
      [presignedUrls['2'], part2],
    ] as const) {
      const put = await fetch(url, { method: 'PUT', body });
      expect(put.status).toBe(200);
      etags.push(put.headers.get('etag') as string);
    }
    const listed = await call(`${S3}/multipart/${encodeURIComponent(uploadId)}?${q({ key })}`);
    expect(listed.status).toBe(200);
    expect(Array.isArray(await listed.json())).toBe(true);
    const done = await call(
      `${S3}/multipart/${encodeURIComponent(uploadId)}/complete?${q({ key })}`,
      {
        method: 'POST',
        body: JSON.stringify({ parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) }),
      },
    );
    expect(done.status).toBe(200);
    const result = await done.json();
    expect(result.key).toBe(key);
    expect(typeof result.location).toBe('string');
    const obj = await stack.services.s3.internal.send(
      new GetObjectCommand({ Bucket: stack.bucket, Key: key }),
    );
    const bytes = await obj.Body?.transformToByteArray();
    expect(bytes?.length).toBe(part1.length + part2.length);
    expect(Buffer.from(bytes?.subarray(-4) ?? []).toString()).toBe('tail');
  });

  it('answers /params with a POST policy for a key in your folder, and the POST stores the file', async () => {
    const res = await call(
      `${S3}/params?${q({ filename: 'a b/c.h5', type: 'application/x-hdf5' })}`,
    );
    expect(res.status).toBe(200);
    const p = await res.json();
    expect(p.method).toBe('POST');
    expect(p.fields.key).toBe('amick/a b/c.h5');
    expect(p.expires).toBe(stack.config.presign.ttlS);
    const form = new FormData();
    for (const [k, v] of Object.entries<string>(p.fields)) form.append(k, v);
    form.append('file', new Blob(['hello']), 'c.h5');
    const up = await fetch(p.url, { method: 'POST', body: form });
    expect(up.status).toBeLessThan(300);
    const obj = await stack.services.s3.internal.send(
      new GetObjectCommand({ Bucket: stack.bucket, Key: 'amick/a b/c.h5' }),
    );
    expect(await obj.Body?.transformToString()).toBe('hello');
  });

  it('aborts with {} and then refuses to sign for the aborted upload', async () => {
    const { key, uploadId } = await (
      await call(`${S3}/multipart`, { method: 'POST', body: JSON.stringify({ filename: 'x.h5' }) })
    ).json();
    const del = await call(`${S3}/multipart/${encodeURIComponent(uploadId)}?${q({ key })}`, {
      method: 'DELETE',
    });
    expect(del.status).toBe(200);
    expect(await del.json()).toEqual({});
    expect(
      (await call(`${S3}/multipart/${encodeURIComponent(uploadId)}/1?${q({ key })}`)).status,
    ).toBe(409);
  });

  it('refuses without a token, with a bad token, and another user’s upload or key', async () => {
    const noToken = await call(`${S3}/params?${q({ filename: 'a.h5' })}`, { token: null });
    expect(noToken.status).toBe(401);
    expect((await noToken.json()).details.reason).toBe('missing_token');
    expect(
      (await call(`${S3}/multipart`, { method: 'POST', body: '{"filename":"a"}', token: 'x.y.z' }))
        .status,
    ).toBe(401);
    const { key, uploadId } = await (
      await call(`${S3}/multipart`, {
        method: 'POST',
        body: JSON.stringify({ filename: 'mine.h5' }),
      })
    ).json();
    const bob = await stack.token('bob');
    const stolen = await call(`${S3}/multipart/${encodeURIComponent(uploadId)}/1?${q({ key })}`, {
      token: bob,
    });
    expect(stolen.status).toBe(403);
    const mismatch = await call(
      `${S3}/multipart/${encodeURIComponent(uploadId)}/1?${q({ key: 'amick/other.h5' })}`,
    );
    expect(mismatch.status).toBe(404);
    const badPart = await call(`${S3}/multipart/${encodeURIComponent(uploadId)}/0?${q({ key })}`);
    expect(badPart.status).toBe(400);
  });

  it('accepts a bucket token with write, refuses one without', async () => {
    const mint = async (ops: string[]) =>
      (
        await call('/api/v1/bucket-token', { method: 'POST', body: JSON.stringify({ ops }) })
      ).json() as Promise<{ token?: string; statusCode?: number }>;
    const w = await mint(['write']);
    expect(typeof w.token).toBe('string');
    const ok = await call(`${S3}/params?${q({ filename: 'bt.h5' })}`, { token: w.token });
    expect(ok.status).toBe(200);
    const r = await mint(['read']);
    expect(
      (await call(`${S3}/params?${q({ filename: 'bt.h5' })}`, { token: r.token })).status,
    ).toBe(403);
  });

  it('property: any filename either becomes a key in the caller’s folder or is refused with a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: 'grapheme', maxLength: 40 }),
          fc.constantFrom(
            '../x',
            '/etc/passwd',
            'a/../../b',
            '..',
            'a\\..\\b',
            'C:/x',
            'a//b',
            '%2e%2e/x',
            '\u202Eh5',
          ),
          fc
            .array(fc.constantFrom('..', '.', 'a', '', '/', 'é', '%2F'), { maxLength: 6 })
            .map((a) => a.join('/')),
        ),
        async (filename) => {
          const res = await call(`${S3}/params?${q({ filename })}`);
          if (res.status === 200) {
            const key = (await res.json()).fields.key as string;
            expect(key.startsWith('amick/')).toBe(true);
            expect(key.split('/')).not.toContain('..');
          } else {
            expect(res.status).toBeGreaterThanOrEqual(400);
            expect(res.status).toBeLessThan(500);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('declares its response schemas in /openapi.json', async () => {
    const doc = await (await app.request('/openapi.json')).json();
    const ops = Object.entries<Record<string, { responses: Record<string, unknown> }>>(
      doc.paths,
    ).filter(([p]) => p.startsWith(S3));
    expect(ops.length).toBe(6);
    for (const [, methods] of ops)
      for (const op of Object.values(methods)) {
        expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401']));
      }
  });
});
