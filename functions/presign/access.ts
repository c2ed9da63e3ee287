import type { MiddlewareHandler } from 'hono';
import type { AccessScope } from '../../shared/auth/access-scope.ts';
import {
  ALL_OPS,
  looksLikeBucketToken,
  verifyBucketToken,
} from '../../shared/auth/bucket-token.ts';
import { homePrefix } from '../../shared/auth/home.ts';
import { bearer, isAdmin } from '../../shared/auth/jwt.ts';
import { ERRORS } from '../../shared/errors.ts';
import type { AppEnv } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';

/**
 * Accepts a user JWT (scope: the user's folder; admins everything under MINIO_OBJECT_PREFIX) or a
 * bucket token (scope: its bucket, prefix and operations) and stores the result as `scope`.
 */
export const requireAccess = (): MiddlewareHandler<AppEnv> => {
  // Scopes of tokens already checked, until they expire: clients reuse one token for many calls.
  const known = new Map<string, { scope: AccessScope; expMs: number }>();
  return async (c, next) => {
    const token = bearer(c.req.header('authorization'));
    const hit = known.get(token);
    if (hit && hit.expMs > Date.now()) {
      c.set('scope', hit.scope);
      return next();
    }
    const { scope, expMs } = await resolveScope(c.get('services'), token);
    if (known.size >= 10_000) known.clear();
    known.set(token, { scope, expMs });
    c.set('scope', scope);
    await next();
  };
};

async function resolveScope(
  services: Services,
  token: string,
): Promise<{ scope: AccessScope; expMs: number }> {
  const { s3, auth } = services.config;
  let scope: AccessScope;
  let expMs: number;
  if (looksLikeBucketToken(token)) {
    if (!auth.bucketTokenSecret)
      throw ERRORS.unauthorized('not_configured', 'Bucket tokens are not enabled');
    const b = await verifyBucketToken(auth.bucketTokenSecret, token);
    if (b.bucket !== s3.bucket) throw ERRORS.forbidden(`Token is for bucket '${b.bucket}'`);
    scope = {
      sub: b.sub,
      admin: false,
      via: 'bucket',
      bucket: b.bucket,
      prefix: b.prefix,
      home: b.prefix,
      ops: b.ops,
    };
    expMs = b.expiresAt.getTime();
  } else {
    const p = await services.verifyToken(token);
    expMs = p.claims.exp ? p.claims.exp * 1000 : Date.now() + 60_000;
    const home = homePrefix(s3.prefix, p.sub);
    scope = {
      sub: p.sub,
      admin: isAdmin(p),
      via: 'user',
      bucket: s3.bucket,
      prefix: isAdmin(p) ? s3.prefix : home,
      home,
      ops: [...ALL_OPS],
    };
  }
  return { scope, expMs };
}
