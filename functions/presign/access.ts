import type { MiddlewareHandler } from 'hono';
import type { AccessScope } from '../../shared/auth/access-scope.ts';
import {
  ALL_OPS,
  looksLikeBucketToken,
  verifyBucketToken,
} from '../../shared/auth/bucket-token.ts';
import { bearer, isAdmin } from '../../shared/auth/jwt.ts';
import { ERRORS } from '../../shared/errors.ts';
import type { AppEnv } from '../../shared/http/app-kit.ts';

/**
 * Accepts a user JWT (scope: the user's folder; admins everything under MINIO_OBJECT_PREFIX) or a
 * bucket token (scope: its bucket, prefix and operations) and stores the result as `scope`.
 */
export const requireAccess = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const services = c.get('services');
  const { s3, auth } = services.config;
  const token = bearer(c.req.header('authorization'));
  let scope: AccessScope;
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
  } else {
    const p = await services.verifyToken(token);
    c.set('principal', p);
    const home = `${s3.prefix}${p.sub}/`;
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
  c.set('scope', scope);
  await next();
};
