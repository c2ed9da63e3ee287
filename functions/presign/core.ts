// The presign core: who the caller is (user JWT or bucket token), what they may touch, and the signing
// that needs neither Postgres nor the object store's API (bucket tokens, single-PUT uploads,
// downloads). Node-free, so the Node presign function and the Workers entry mount the same route
// groups (./routes/) over it: one set of rules.
import type { MiddlewareHandler } from 'hono';
import type { AccessScope } from '../../shared/auth/access-scope.ts';
import {
  ALL_OPS,
  looksLikeBucketToken,
  mintBucketToken,
  verifyBucketToken,
} from '../../shared/auth/bucket-token.ts';
import { homePrefix } from '../../shared/auth/home.ts';
import { bearer, isAdmin, type TokenVerifier } from '../../shared/auth/jwt.ts';
import type { PresignSettings } from '../../shared/config/settings.ts';
import { ERRORS } from '../../shared/errors.ts';
import type { Presigner, PresignRequest } from '../../shared/object-store/presigner.ts';
import { splitRelative } from '../../shared/storage/relative-path.ts';
import * as z from '../../shared/validation/zod.ts';
import { checkKey, requireOp, uploadKey } from './object-keys.ts';

/** The request variables the core sets. */
export interface CoreEnv {
  Variables: { scope: AccessScope };
}

/** An upload request, as the route validated it. */
export interface UploadRequest {
  name: string;
  size: number;
  contentType?: string;
  sha256?: string;
  enforceSize?: boolean;
}

/** Upload plans that need the object store's API or Postgres (the Node function supplies them). */
export interface StatefulUploads {
  /** A presigned POST whose policy pins the size. */
  post(scope: AccessScope, key: string, body: UploadRequest): Promise<object>;
  /** A multipart plan for uploads above the single-PUT limit. */
  multipart(scope: AccessScope, key: string, body: UploadRequest): Promise<object>;
}

/** What the core needs; each runtime builds it from the same settings. */
export interface PresignCoreDeps {
  settings: PresignSettings;
  verifyToken: TokenVerifier;
  /** The presigner for the public endpoint, created on first use. */
  presigner: () => Presigner;
  /** Signing time; tests pin it to compare URLs across runtimes. */
  now?: () => Date;
  stateful?: StatefulUploads;
}

/** S3's largest object. */
export const MAX_OBJECT = 5 * 1024 ** 4;
/** The upload body; the Node function's OpenAPI document describes it from here. */
export const uploadBody = z.strictObject({
  name: z.string().check(z.minLength(1), z.maxLength(1024), z.meta({ example: 'run1/data.h5' })),
  size: z.number().check(z.int(), z.minimum(0), z.maximum(MAX_OBJECT)),
  contentType: z.optional(z.string().check(z.maxLength(255))),
  sha256: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}$/i, 'hex SHA-256'))),
  enforceSize: z
    .optional(z.boolean())
    .check(z.meta({ description: 'Presigned POST with content-length-range' })),
});

/**
 * When a URL signed at `signedAt` stops working. SigV4 counts the lifetime from X-Amz-Date, which has
 * whole seconds, so the fraction of the signing second is not part of it. Kept for the current second:
 * a busy function answers many requests within one.
 */
let lastExpiry = { second: Number.NaN, ttlS: Number.NaN, iso: '' };
export function expiry(signedAt: Date, ttlS: number): string {
  const second = Math.floor(signedAt.getTime() / 1000);
  if (second !== lastExpiry.second || ttlS !== lastExpiry.ttlS)
    lastExpiry = { second, ttlS, iso: new Date((second + ttlS) * 1000).toISOString() };
  return lastExpiry.iso;
}
const hexToBase64 = (hex: string) =>
  btoa(String.fromCharCode(...(hex.match(/../g) ?? []).map((h) => Number.parseInt(h, 16))));

/** The scope of a bearer token: a bucket token's own, or a user's folder (admins: the whole prefix). */
async function resolveScope(
  deps: PresignCoreDeps,
  token: string,
): Promise<{ scope: AccessScope; expMs: number }> {
  const { s3, auth } = deps.settings;
  if (looksLikeBucketToken(token)) {
    if (!auth.bucketTokenSecret)
      throw ERRORS.unauthorized('not_configured', 'Bucket tokens are not enabled');
    const b = await verifyBucketToken(auth.bucketTokenSecret, token);
    if (b.bucket !== s3.bucket) throw ERRORS.forbidden(`Token is for bucket '${b.bucket}'`);
    const scope: AccessScope = {
      sub: b.sub,
      admin: false,
      via: 'bucket',
      bucket: b.bucket,
      prefix: b.prefix,
      home: b.prefix,
      ops: b.ops,
    };
    return { scope, expMs: b.expiresAt.getTime() };
  }
  const p = await deps.verifyToken(token);
  const home = homePrefix(s3.prefix, p.sub);
  const admin = isAdmin(p);
  const scope: AccessScope = {
    sub: p.sub,
    admin,
    via: 'user',
    bucket: s3.bucket,
    prefix: admin ? s3.prefix : home,
    home,
    ops: [...ALL_OPS],
  };
  // The verifier requires `exp`.
  return { scope, expMs: (p.claims.exp as number) * 1000 };
}

/**
 * Accepts a user JWT or a bucket token and stores the caller's scope as `scope`. One instance per
 * app: scopes of tokens already checked are kept until they expire (clients reuse one token).
 */
export function requireAccess(deps: PresignCoreDeps): MiddlewareHandler<CoreEnv> {
  const known = new Map<string, { scope: AccessScope; expMs: number }>();
  return async (c, next) => {
    const token = bearer(c.req.header('authorization'));
    const hit = known.get(token);
    if (hit && hit.expMs > Date.now()) {
      c.set('scope', hit.scope);
      return next();
    }
    const resolved = await resolveScope(deps, token);
    if (known.size >= 10_000) known.clear();
    known.set(token, resolved);
    c.set('scope', resolved.scope);
    await next();
  };
}

/** Every presign path that needs a token (`/x/*` also matches `/x`). */
export const ACCESS_PATHS = [
  '/api/v1/bucket-token',
  '/api/v1/uploads/*',
  '/api/v1/downloads',
  '/api/v1/objects',
  '/storage/*',
  '/api/v1/uppy/s3/*',
];

/** Signs an upload: a single PUT, or (with the Node function's help) a POST policy or multipart plan. */
export async function signUpload(deps: PresignCoreDeps, scope: AccessScope, body: UploadRequest) {
  requireOp(scope, 'write');
  const key = uploadKey(scope, body.name);
  const { singlePutMaxBytes } = deps.settings.presign;
  if (body.size > singlePutMaxBytes || body.enforceSize) {
    if (!deps.stateful)
      throw ERRORS.badRequest(
        body.enforceSize
          ? 'Size-enforcing POST uploads are signed by the Node presign function'
          : 'Multipart uploads are planned by the Node presign function',
      );
    return body.size > singlePutMaxBytes
      ? deps.stateful.multipart(scope, key, body)
      : deps.stateful.post(scope, key, body);
  }
  return signPut(deps, scope, key, body);
}

/** Signs `req` for the configured lifetime, now (or the pinned time), with its real expiry. */
function sign(deps: PresignCoreDeps, req: Omit<PresignRequest, 'expiresIn' | 'now'>) {
  const ttlS = deps.settings.presign.ttlS;
  const now = deps.now?.() ?? new Date();
  const url = deps.presigner().presign({ ...req, expiresIn: ttlS, now });
  return { url, expiresAt: expiry(now, ttlS), expiresIn: ttlS };
}

/** A presigned single PUT of `key` (checked by the caller), with the checksum and type headers. */
export function signPut(
  deps: PresignCoreDeps,
  scope: AccessScope,
  key: string,
  body: Pick<UploadRequest, 'sha256' | 'contentType'>,
) {
  const headers: Record<string, string> = {};
  if (body.sha256) headers['x-amz-checksum-sha256'] = hexToBase64(body.sha256);
  const { url, expiresAt } = sign(deps, { method: 'PUT', bucket: scope.bucket, key, headers });
  if (body.contentType) headers['content-type'] = body.contentType;
  return { method: 'PUT' as const, url, headers, key, expiresAt };
}

/** A presigned GET, optionally asking the server to send a download file name. */
export function signDownload(
  deps: PresignCoreDeps,
  scope: AccessScope,
  key: string,
  filename?: string,
) {
  requireOp(scope, 'read');
  checkKey(scope, key);
  const query: Record<string, string> = {};
  if (filename)
    query['response-content-disposition'] =
      `attachment; filename="${filename.replace(/["\\\r\n]/g, '_')}"`;
  return { key, ...sign(deps, { method: 'GET', bucket: scope.bucket, key, query }) };
}

/** A bucket token below the caller's folder (admins: anywhere under the object prefix). */
export async function mintScopedToken(
  deps: PresignCoreDeps,
  scope: AccessScope,
  body: { prefix?: string; ops: AccessScope['ops']; ttlMin?: number },
) {
  if (scope.via !== 'user') throw ERRORS.forbidden('Bucket tokens cannot mint bucket tokens');
  const { auth, s3 } = deps.settings;
  let prefix = scope.home;
  if (body.prefix) {
    const rel = body.prefix.replace(/\/$/, '');
    splitRelative(rel, 'prefix');
    prefix = scope.admin ? `${s3.prefix}${rel}/` : `${scope.home}${rel}/`;
  }
  if (!prefix.startsWith(scope.prefix))
    throw ERRORS.forbidden(`prefix '${prefix}' is outside your prefix`);
  const ttlMin = Math.min(body.ttlMin ?? auth.bucketTokenTtlMin, auth.bucketTokenTtlMin);
  if (!auth.bucketTokenSecret) throw ERRORS.unavailable('Bucket tokens are not configured');
  const { token, expiresAt } = await mintBucketToken(
    auth.bucketTokenSecret,
    { sub: scope.sub, bucket: scope.bucket, prefix, ops: body.ops },
    ttlMin * 60,
  );
  return { token, bucket: scope.bucket, prefix, ops: body.ops, expiresAt: expiresAt.toISOString() };
}

/** Compatibility `POST /storage/presign/upload`: a PUT for `name` in the caller's folder. */
export function signNamedUpload(deps: PresignCoreDeps, scope: AccessScope, name: string) {
  requireOp(scope, 'write');
  return {
    ...signPut(deps, scope, uploadKey(scope, name), {}),
    expiresIn: deps.settings.presign.ttlS,
  };
}

/** Compatibility `GET /storage/presign/download`: a full key in scope, else a name in the folder. */
export function signNamedDownload(deps: PresignCoreDeps, scope: AccessScope, name: string) {
  const key = name.startsWith(scope.prefix)
    ? name
    : `${scope.home}${splitRelative(name, 'object_name').join('/')}`;
  return signDownload(deps, scope, key);
}
