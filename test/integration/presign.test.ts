import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SignJWT, UnsecuredJWT } from 'jose';
import * as Minio from 'minio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPresignApp } from '../../functions/presign/app.ts';
import { createPresigner } from '../../shared/object-store/presigner.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let app: ReturnType<typeof createPresignApp>;
let amick: string;
let admin: string;
const MiB = 1024 * 1024;

beforeAll(async () => {
  stack = await createTestStack({
    MINIO_OBJECT_PREFIX: 'uploads/',
    SLUICE_SINGLE_PUT_MAX_BYTES: String(6 * MiB),
    SLUICE_MULTIPART_PART_BYTES: String(5 * MiB),
    BUCKET_TOKEN_TTL_MIN: '30',
  });
  app = createPresignApp(stack.services);
  amick = await stack.token('amick');
  admin = await stack.token('root', ['admin']);
});
afterAll(() => stack.close());

const call = async (method: string, path: string, token: string | undefined, body?: unknown) => {
  const res = await app.request(path, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('signatures match an independent SigV4 implementation', () => {
  const opts = {
    endpoint: 'https://s3.lab.example.org:9443',
    region: 'eu-central-1',
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  };
  const minio = new Minio.Client({
    endPoint: 's3.lab.example.org',
    port: 9443,
    useSSL: true,
    accessKey: opts.accessKeyId,
    secretKey: opts.secretAccessKey,
    region: opts.region,
    pathStyle: true,
  });
  const ours = createPresigner(opts);
  const now = new Date('2026-11-22T10:20:30Z');
  for (const key of [
    'uploads/amick/data.h5',
    'uploads/amick/a b+c (1)/需求*~.h5',
    "uploads/amick/!'()*.h5",
  ]) {
    it(`GET and PUT for ${JSON.stringify(key)} equal the minio client's presigner`, async () => {
      expect(ours.presign({ method: 'GET', bucket: 'lab', key, expiresIn: 1800, now })).toBe(
        await minio.presignedUrl('GET', 'lab', key, 1800, {}, now),
      );
      expect(ours.presign({ method: 'PUT', bucket: 'lab', key, expiresIn: 600, now })).toBe(
        await minio.presignedUrl('PUT', 'lab', key, 600, {}, now),
      );
    });
  }
  /** The same request: equal path, equal query parameters (in any order), equal signature. */
  const same = (a: string, b: string) => {
    const [ua, ub] = [new URL(a), new URL(b)];
    expect(ua.pathname).toBe(ub.pathname);
    expect([...ua.searchParams].sort()).toEqual([...ub.searchParams].sort());
    expect(ua.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  };
  it('UploadPart and response-content-disposition queries sign the same as the minio presigner', async () => {
    const q = { partNumber: '7', uploadId: 'abc~def/+=' };
    same(
      ours.presign({ method: 'PUT', bucket: 'lab', key: 'k.h5', expiresIn: 900, query: q, now }),
      await minio.presignedUrl('PUT', 'lab', 'k.h5', 900, q, now),
    );
    const d = { 'response-content-disposition': 'attachment; filename="x y.h5"' };
    same(
      ours.presign({ method: 'GET', bucket: 'lab', key: 'k.h5', expiresIn: 900, query: d, now }),
      await minio.presignedUrl('GET', 'lab', 'k.h5', 900, d, now),
    );
  });
});

/** X-Amz-Date of a presigned URL, in epoch milliseconds. */
const signedAt = (url: string) =>
  Date.parse(
    (new URL(url).searchParams.get('X-Amz-Date') as string).replace(
      /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/,
      '$1-$2-$3T$4:$5:$6Z',
    ),
  );

describe('uploads and downloads move real bytes', () => {
  it('single PUT through the URL with plain fetch, then a presigned GET returns the same bytes', async () => {
    const data = randomBytes(300_000);
    const up = await call('POST', '/api/v1/uploads', amick, {
      name: 'run1/small.bin',
      size: data.length,
      contentType: 'application/octet-stream',
    });
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ method: 'PUT', key: 'uploads/amick/run1/small.bin' });
    expect(up.body.url).not.toContain('x-amz-checksum-crc32');
    expect(up.body.url).not.toContain('x-amz-sdk-checksum');
    // The real expiry: 30 minutes from now.
    expect(Math.abs(Date.parse(up.body.expiresAt) - Date.now() - 1800_000)).toBeLessThan(5000);
    expect(up.body.url).toContain('X-Amz-Expires=1800');
    // ...exactly when the signature stops working: X-Amz-Date (whole seconds) plus X-Amz-Expires.
    expect(Date.parse(up.body.expiresAt)).toBe(signedAt(up.body.url) + 1800_000);
    const put = await fetch(up.body.url, { method: 'PUT', body: data, headers: up.body.headers });
    expect(put.status).toBe(200);
    const down = await call(
      'GET',
      `/api/v1/downloads?key=${encodeURIComponent(up.body.key)}&filename=small.bin`,
      amick,
    );
    const got = new Uint8Array(await (await fetch(down.body.url)).arrayBuffer());
    expect(sha(got)).toBe(sha(data));
    expect(Date.parse(down.body.expiresAt)).toBe(signedAt(down.body.url) + 1800_000);
  });

  it('a multipart upload of 3 parts with fetch, resumable from the recorded parts, then completed', async () => {
    const data = randomBytes(12 * MiB + 12345);
    const plan = await call('POST', '/api/v1/uploads', amick, {
      name: 'big/volume.raw',
      size: data.length,
    });
    expect(plan.body).toMatchObject({
      method: 'MULTIPART',
      partSize: 5 * MiB,
      partCount: 3,
      key: 'uploads/amick/big/volume.raw',
    });
    const { uploadId, key } = plan.body as { uploadId: string; key: string };
    const urls = await call(
      'POST',
      `/api/v1/uploads/${encodeURIComponent(uploadId)}/parts`,
      amick,
      { key, partNumbers: [1, 2, 3] },
    );
    expect(urls.body.parts).toHaveLength(3);
    const etags: { partNumber: number; etag: string }[] = [];
    for (const p of urls.body.parts as { partNumber: number; url: string }[]) {
      const chunk = data.subarray((p.partNumber - 1) * 5 * MiB, p.partNumber * 5 * MiB);
      const res = await fetch(p.url, { method: 'PUT', body: chunk });
      expect(res.status).toBe(200);
      const etag = (res.headers.get('etag') ?? '').replaceAll('"', '');
      etags.push({ partNumber: p.partNumber, etag });
      // The client records each part, so a resume never depends on ListParts alone.
      if (p.partNumber < 3)
        await call(
          'PUT',
          `/api/v1/uploads/${encodeURIComponent(uploadId)}/parts/${p.partNumber}`,
          amick,
          { key, etag, size: chunk.length },
        );
    }
    const listed = await call(
      'GET',
      `/api/v1/uploads/${encodeURIComponent(uploadId)}?key=${encodeURIComponent(key)}&limit=2`,
      amick,
    );
    expect(listed.body.parts.map((p: { partNumber: number }) => p.partNumber)).toEqual([1, 2]);
    expect(listed.body.nextCursor).toBe(2);
    const done = await call(
      'POST',
      `/api/v1/uploads/${encodeURIComponent(uploadId)}/complete`,
      amick,
      { key, parts: etags },
    );
    expect(done.status).toBe(200);
    const down = await call('GET', `/api/v1/downloads?key=${encodeURIComponent(key)}`, amick);
    const got = new Uint8Array(await (await fetch(down.body.url)).arrayBuffer());
    expect(got.length).toBe(data.length);
    expect(sha(got)).toBe(sha(data));
    // Completing twice is a conflict, not a 500.
    expect(
      (
        await call('POST', `/api/v1/uploads/${encodeURIComponent(uploadId)}/complete`, amick, {
          key,
          parts: etags,
        })
      ).status,
    ).toBe(409);
  });

  it('works with the minio and AWS SDK clients on either side of the URLs', async () => {
    const { endpoint, accessKey, secretKey } = stack.config.s3;
    const url = new URL(endpoint);
    const mc = new Minio.Client({
      endPoint: url.hostname,
      port: Number(url.port),
      useSSL: false,
      accessKey: accessKey as string,
      secretKey: secretKey as string,
      region: 'us-east-1',
      pathStyle: true,
    });
    const sdk = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: accessKey as string, secretAccessKey: secretKey as string },
    });
    // Uploaded through a Sluice URL, read with the minio client.
    const bytes = randomBytes(4096);
    const up = await call('POST', '/api/v1/uploads', amick, {
      name: 'clients/a.bin',
      size: bytes.length,
    });
    await fetch(up.body.url, { method: 'PUT', body: bytes });
    const stream = await mc.getObject(stack.bucket, up.body.key);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(sha(Buffer.concat(chunks))).toBe(sha(bytes));
    // Written with the AWS SDK, fetched through a Sluice download URL and listed by Sluice.
    await sdk.send(
      new PutObjectCommand({
        Bucket: stack.bucket,
        Key: 'uploads/amick/clients/b.bin',
        Body: bytes,
      }),
    );
    const down = await call('GET', '/api/v1/downloads?key=uploads/amick/clients/b.bin', amick);
    expect(sha(new Uint8Array(await (await fetch(down.body.url)).arrayBuffer()))).toBe(sha(bytes));
    const head = await sdk.send(new GetObjectCommand({ Bucket: stack.bucket, Key: up.body.key }));
    expect(head.ContentLength).toBe(4096);
    const list = await call('GET', '/api/v1/objects?prefix=clients/', amick);
    expect(list.body.objects.map((o: { key: string }) => o.key)).toEqual([
      'uploads/amick/clients/a.bin',
      'uploads/amick/clients/b.bin',
    ]);
    sdk.destroy();
  });

  it('offers a presigned POST whose policy pins the size', async () => {
    const up = await call('POST', '/api/v1/uploads', amick, {
      name: 'post/x.bin',
      size: 1000,
      enforceSize: true,
    });
    expect(up.body.method).toBe('POST');
    const policy = JSON.parse(Buffer.from(up.body.fields.Policy, 'base64').toString('utf8'));
    expect(policy.conditions).toContainEqual(['content-length-range', 1000, 1000]);
    expect(policy.conditions).toContainEqual({ key: 'uploads/amick/post/x.bin' });
  });

  it('keeps the compatibility routes working, with the real expiry', async () => {
    const up = await call('POST', '/storage/presign/upload?object_name=legacy.h5', amick);
    expect(up.body).toMatchObject({ object_name: 'uploads/amick/legacy.h5', expires_in: 1800 });
    await fetch(up.body.url, { method: 'PUT', body: 'legacy' });
    const down = await call('GET', '/storage/presign/download?object_name=legacy.h5', amick);
    expect(await (await fetch(down.body.url)).text()).toBe('legacy');
    const list = await call('GET', '/storage/list', amick);
    expect(list.body.objects.map((o: { object_name: string }) => o.object_name)).toContain(
      'uploads/amick/legacy.h5',
    );
  });
});

describe('bucket tokens', () => {
  it('are scoped to a prefix and operations: a token for prefix A can never sign for prefix B', async () => {
    const minted = await call('POST', '/api/v1/bucket-token', amick, {
      prefix: 'shared-run',
      ops: ['write', 'list'],
    });
    expect(minted.body).toMatchObject({
      prefix: 'uploads/amick/shared-run/',
      ops: ['write', 'list'],
    });
    const token = minted.body.token as string;
    const up = await call('POST', '/api/v1/uploads', token, { name: 'x.h5', size: 3 });
    expect(up.body.key).toBe('uploads/amick/shared-run/x.h5');
    expect(
      (await call('POST', '/api/v1/uploads', token, { name: '../escape.h5', size: 3 })).status,
    ).toBe(400);
    expect(
      (await call('GET', '/api/v1/downloads?key=uploads/amick/shared-run/x.h5', token)).status,
    ).toBe(403);
    const otherUser = await call('GET', '/api/v1/downloads?key=uploads/sam/secret.h5', amick);
    expect(otherUser.status).toBe(403);
    const readToken = (await call('POST', '/api/v1/bucket-token', amick, { ops: ['read'] })).body
      .token as string;
    expect((await call('GET', '/api/v1/downloads?key=uploads/sam/x.h5', readToken)).status).toBe(
      403,
    );
    expect(
      (await call('GET', '/api/v1/downloads?key=uploads/amick/run1/small.bin', readToken)).status,
    ).toBe(200);
    expect((await call('POST', '/api/v1/bucket-token', token, {})).status).toBe(403);
    expect((await call('POST', '/api/v1/bucket-token', amick, { prefix: '../sam' })).status).toBe(
      400,
    );
    // Admins may scope a token to any user's folder.
    expect((await call('POST', '/api/v1/bucket-token', admin, { prefix: 'sam' })).body.prefix).toBe(
      'uploads/sam/',
    );
  });
});

describe('hostile input gets the right 4xx', () => {
  const secret = () => new TextEncoder().encode(stack.config.auth.jwtSecret as string);
  it('refuses bad JWTs with a reason code', async () => {
    const cases: [string, string][] = [];
    cases.push([new UnsecuredJWT({ sub: 'amick' }).encode(), 'unsupported_algorithm']);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    cases.push([
      await new SignJWT({ sub: 'amick' })
        .setProtectedHeader({ alg: 'RS256' })
        .setExpirationTime('5m')
        .sign(privateKey),
      'unsupported_algorithm',
    ]);
    cases.push([
      await new SignJWT({ sub: 'amick' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
        .sign(secret()),
      'expired',
    ]);
    cases.push([
      await new SignJWT({ sub: 'amick' })
        .setProtectedHeader({ alg: 'HS256' })
        .setNotBefore(Math.floor(Date.now() / 1000) + 600)
        .setExpirationTime('20m')
        .sign(secret()),
      'not_yet_valid',
    ]);
    cases.push([
      await new SignJWT({ sub: 'amick' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode('another-secret')),
      'bad_signature',
    ]);
    cases.push([
      await new SignJWT({ sub: 'amick' })
        .setProtectedHeader({ alg: 'HS512' })
        .setExpirationTime('5m')
        .sign(secret()),
      'unsupported_algorithm',
    ]);
    cases.push(['garbage', 'malformed_token']);
    cases.push(['a.b.c', 'malformed_token']);
    for (const [token, reason] of cases) {
      const r = await call('POST', '/api/v1/uploads', token, { name: 'x', size: 1 });
      expect(r.status, reason).toBe(401);
      expect(r.body.details?.reason, token.slice(0, 20)).toBe(reason);
      expect(JSON.stringify(r.body)).not.toMatch(/at .*\.(ts|js):\d+/);
    }
    expect(
      (await call('POST', '/api/v1/uploads', undefined, { name: 'x', size: 1 })).body.details
        .reason,
    ).toBe('missing_token');
  });

  it('refuses traversal and odd names, oversize plans, bad part numbers and malformed bodies', async () => {
    for (const name of [
      '../sam/x.h5',
      '..',
      'a/../../b',
      'a\\b',
      'a//b',
      'x\u0000.h5',
      'C:\\x',
      'a/./b',
    ]) {
      const r = await call('POST', '/api/v1/uploads', amick, { name, size: 1 });
      expect(r.status, name).toBe(400);
    }
    // A leading slash is normalised away: the key stays in the caller's folder.
    expect(
      (await call('POST', '/api/v1/uploads', amick, { name: '/etc/passwd', size: 1 })).body.key,
    ).toBe('uploads/amick/etc/passwd');
    expect(
      (await call('POST', '/api/v1/uploads', amick, { name: 'x', size: 6 * 1024 ** 4 })).status,
    ).toBe(400);
    const plan = await call('POST', '/api/v1/uploads', amick, {
      name: 'parts.bin',
      size: 11 * MiB,
    });
    const tooFar = await call(
      'POST',
      `/api/v1/uploads/${encodeURIComponent(plan.body.uploadId)}/parts`,
      amick,
      { key: plan.body.key, partNumbers: [1, 4] },
    );
    expect(tooFar.status).toBe(400);
    expect(tooFar.body.message).toContain('partNumbers');
    expect(
      (
        await call(
          'POST',
          `/api/v1/uploads/${encodeURIComponent(plan.body.uploadId)}/parts`,
          amick,
          { key: plan.body.key, partNumbers: [0] },
        )
      ).status,
    ).toBe(400);
    expect(
      (
        await call(
          'POST',
          `/api/v1/uploads/${encodeURIComponent(plan.body.uploadId)}/parts`,
          amick,
          { key: plan.body.key, partNumbers: Array.from({ length: 1001 }, (_, i) => i + 1) },
        )
      ).status,
    ).toBe(400);
    const aborted = await call(
      'DELETE',
      `/api/v1/uploads/${encodeURIComponent(plan.body.uploadId)}?key=${encodeURIComponent(plan.body.key)}`,
      amick,
    );
    expect(aborted.body, JSON.stringify(aborted.body)).toMatchObject({ status: 'aborted' });
    const bad = await call('POST', '/api/v1/uploads', amick, '{not json');
    expect(bad.status).toBe(400);
    const missing = await call('POST', '/api/v1/uploads', amick, { size: -1, extra: true });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe('VALIDATION_FAILED');
    expect(missing.body.message).toContain('name');
    expect(missing.body.message).toContain('size');
    // Someone else's upload id is not found for this user.
    const sam = await stack.token('sam');
    expect(
      (
        await call(
          'GET',
          `/api/v1/uploads/${encodeURIComponent(plan.body.uploadId)}?key=${encodeURIComponent(plan.body.key)}`,
          sam,
        )
      ).status,
    ).toBe(403);
  });
});

describe('hostile subs and names stay in their own folder', () => {
  it('a sub with path syntax gets one encoded folder and cannot write into bob/ (issue 19.4)', async () => {
    const bobKey = 'uploads/bob/secret.h5';
    await stack.services.s3.internal.send(
      new PutObjectCommand({ Bucket: stack.bucket, Key: bobKey, Body: 'bob-original' }),
    );
    const cases: [string, string][] = [
      ['bob/x', 'uploads/bob%2Fx/secret.h5'],
      ['../bob', 'uploads/..%2Fbob/secret.h5'],
      ['x/../bob', 'uploads/x%2F..%2Fbob/secret.h5'],
      ['..', 'uploads/%2E%2E/secret.h5'],
      ['auth0|5f2a', 'uploads/auth0%7C5f2a/secret.h5'],
      ['ana.lopez@lab.org', 'uploads/ana.lopez@lab.org/secret.h5'],
    ];
    for (const [sub, key] of cases) {
      const token = await stack.token(sub);
      const up = await call('POST', '/api/v1/uploads', token, { name: 'secret.h5', size: 5 });
      expect(up.status, sub).toBe(200);
      expect(up.body.key, sub).toBe(key);
      // The URL really writes that key (and nothing of bob's), and the same user reads it back.
      const put = await fetch(up.body.url, { method: 'PUT', body: 'owned' });
      expect(put.status, sub).toBe(200);
      const down = await call('GET', `/api/v1/downloads?key=${encodeURIComponent(key)}`, token);
      expect(down.status, sub).toBe(200);
      expect(await (await fetch(down.body.url)).text()).toBe('owned');
      // ...while bob's folder stays out of reach.
      const steal = await call('GET', `/api/v1/downloads?key=${encodeURIComponent(bobKey)}`, token);
      expect(steal.status, sub).toBe(403);
    }
    const bob = await stack.services.s3.internal.send(
      new GetObjectCommand({ Bucket: stack.bucket, Key: bobKey }),
    );
    expect(await bob.Body?.transformToString()).toBe('bob-original');
  });

  it('refuses names with Unicode format characters, naming the character (issue 19.12)', async () => {
    const r = await call('POST', '/api/v1/uploads', amick, { name: 'run/a\u202Eb.h5', size: 1 });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('INVALID_PATH');
    expect(r.body.message).toContain('U+202E');
    const d = await call(
      'GET',
      `/api/v1/downloads?key=${encodeURIComponent('uploads/amick/\u200Bx')}`,
      amick,
    );
    expect(d.status).toBe(400);
  });
});

describe('local accounts', () => {
  it('admins create users; users log in, refresh (rotating) and log out', async () => {
    expect(
      (await call('POST', '/auth/users', amick, { username: 'lee', password: 'correct horse' }))
        .status,
    ).toBe(403);
    expect(
      (await call('POST', '/auth/users', admin, { username: 'lee', password: 'correct horse' }))
        .status,
    ).toBe(201);
    expect(
      (await call('POST', '/auth/users', admin, { username: 'lee', password: 'correct horse' }))
        .status,
    ).toBe(409);
    expect(
      (await call('POST', '/auth/login', undefined, { username: 'lee', password: 'wrong' })).status,
    ).toBe(401);
    expect(
      (await call('POST', '/auth/login', undefined, { username: 'nobody', password: 'wrong' }))
        .status,
    ).toBe(401);
    const login = await call('POST', '/auth/login', undefined, {
      username: 'lee',
      password: 'correct horse',
    });
    expect(login.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 600 });
    const up = await call('POST', '/api/v1/uploads', login.body.accessToken, {
      name: 'mine.h5',
      size: 1,
    });
    expect(up.body.key).toBe('uploads/lee/mine.h5');
    const refreshed = await call('POST', '/auth/refresh', undefined, {
      refreshToken: login.body.refreshToken,
    });
    expect(refreshed.status).toBe(200);
    expect(
      (await call('POST', '/auth/refresh', undefined, { refreshToken: login.body.refreshToken }))
        .status,
    ).toBe(401);
    await call('POST', '/auth/logout', undefined, { refreshToken: refreshed.body.refreshToken });
    expect(
      (
        await call('POST', '/auth/refresh', undefined, {
          refreshToken: refreshed.body.refreshToken,
        })
      ).status,
    ).toBe(401);
  });
});
