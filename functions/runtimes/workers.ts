// Cloudflare Workers entry for the presign function's stateless part: single-PUT uploads and downloads
// signed with the same pure presigner as the Node function (multipart plans, accounts and listings need
// Postgres or the object store's API and stay on the Node function). Bindings carry the settings.
import { Hono } from 'hono';
import { jwtVerify } from 'jose';
import type { AccessScope } from '../../shared/auth/access-scope.ts';
import { AppError, ERRORS, issueFields } from '../../shared/errors.ts';
import { createPresigner } from '../../shared/object-store/presigner.ts';
import * as z from '../../shared/validation/zod.ts';
import { checkKey, requireOp, uploadKey } from '../presign/object-keys.ts';

interface Bindings {
  JWT_SECRET: string;
  MINIO_PUBLIC_ENDPOINT: string;
  MINIO_ACCESS_KEY: string;
  MINIO_SECRET_KEY: string;
  MINIO_BUCKET: string;
  MINIO_OBJECT_PREFIX?: string;
  SLUICE_S3_REGION?: string;
  SLUICE_PRESIGN_TTL_S?: string;
  SLUICE_SINGLE_PUT_MAX_BYTES?: string;
  /** Tests only: a fixed signing time (ISO 8601), so URLs can be compared across runtimes. */
  SLUICE_FIXED_NOW?: string;
}

const app = new Hono<{ Bindings: Bindings; Variables: { scope: AccessScope } }>();
const encoder = new TextEncoder();

app.onError((err, c) => {
  const e = err instanceof AppError ? err : new AppError(500, 'INTERNAL', 'Internal error');
  return c.json(e.toBody(), e.status);
});
app.get('/healthz', (c) => c.json({ status: 'ok', function: 'presign', runtime: 'workers' }));

app.use('/api/v1/*', async (c, next) => {
  const m = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
  if (!m?.[1]) throw ERRORS.unauthorized('missing_token');
  let sub: string;
  let roles: string[];
  try {
    const { payload } = await jwtVerify(m[1], encoder.encode(c.env.JWT_SECRET), {
      algorithms: ['HS256'],
      clockTolerance: 5,
    });
    sub = String(payload.sub ?? '');
    roles = Array.isArray(payload.roles) ? payload.roles.map(String) : [];
  } catch {
    throw ERRORS.unauthorized('bad_token', 'Token is invalid or expired');
  }
  if (!sub) throw ERRORS.unauthorized('bad_claims', "Token has no 'sub'");
  const prefix = c.env.MINIO_OBJECT_PREFIX ?? '';
  const home = `${prefix}${sub}/`;
  const admin = roles.includes('admin');
  c.set('scope', {
    sub,
    admin,
    via: 'user',
    bucket: c.env.MINIO_BUCKET,
    prefix: admin ? prefix : home,
    home,
    ops: ['read', 'write', 'list'],
  });
  await next();
});

const presigner = (env: Bindings) =>
  createPresigner({
    endpoint: env.MINIO_PUBLIC_ENDPOINT,
    region: env.SLUICE_S3_REGION ?? 'us-east-1',
    accessKeyId: env.MINIO_ACCESS_KEY,
    secretAccessKey: env.MINIO_SECRET_KEY,
  });
const now = (env: Bindings) => (env.SLUICE_FIXED_NOW ? new Date(env.SLUICE_FIXED_NOW) : new Date());
const ttl = (env: Bindings) => Number(env.SLUICE_PRESIGN_TTL_S ?? 1800);

const uploadBody = z.strictObject({
  name: z.string().check(z.minLength(1), z.maxLength(1024)),
  size: z.number().check(z.int(), z.minimum(0)),
  contentType: z.optional(z.string().check(z.maxLength(255))),
});

app.post('/api/v1/uploads', async (c) => {
  const parsed = z.safeParse(uploadBody, await c.req.json().catch(() => undefined));
  if (!parsed.success) throw ERRORS.validation(issueFields(parsed.error.issues));
  const scope = c.get('scope');
  requireOp(scope, 'write');
  if (parsed.data.size > Number(c.env.SLUICE_SINGLE_PUT_MAX_BYTES ?? 104_857_600)) {
    throw ERRORS.badRequest('Multipart uploads are planned by the Node presign function');
  }
  const key = uploadKey(scope, parsed.data.name);
  const at = now(c.env);
  const url = presigner(c.env).presign({
    method: 'PUT',
    bucket: scope.bucket,
    key,
    expiresIn: ttl(c.env),
    now: at,
  });
  const headers: Record<string, string> = parsed.data.contentType
    ? { 'content-type': parsed.data.contentType }
    : {};
  return c.json({
    method: 'PUT',
    url,
    headers,
    key,
    expiresAt: new Date(at.getTime() + ttl(c.env) * 1000).toISOString(),
  });
});

app.get('/api/v1/downloads', (c) => {
  const scope = c.get('scope');
  requireOp(scope, 'read');
  const key = checkKey(scope, c.req.query('key') ?? '');
  const at = now(c.env);
  const url = presigner(c.env).presign({
    method: 'GET',
    bucket: scope.bucket,
    key,
    expiresIn: ttl(c.env),
    now: at,
  });
  return c.json({ url, key, expiresAt: new Date(at.getTime() + ttl(c.env) * 1000).toISOString() });
});

export default app;
