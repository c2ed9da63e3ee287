import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ERRORS } from '../errors.ts';

/** Compares two secrets in constant time (hashing first so lengths do not leak). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/**
 * Requires `Authorization: Bearer <token>` equal to the configured shared secret (MinIO's `auth_token`,
 * the rescan token). `allowQuery` also accepts `?token=` for schedulers that cannot set headers.
 * With no secret configured every call is refused: an unprotected endpoint is never the default.
 */
export const requireStaticToken =
  (
    secret: () => string | undefined,
    opts: { name: string; allowQuery?: boolean },
  ): MiddlewareHandler =>
  async (c, next) => {
    const expected = secret();
    if (!expected)
      throw ERRORS.unauthorized('not_configured', `${opts.name} is not configured on the server`);
    const header = c.req.header('authorization');
    const given =
      header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1] ??
      (opts.allowQuery ? c.req.query('token') : undefined);
    if (!given) throw ERRORS.unauthorized('missing_token');
    if (!safeEqual(given, expected)) throw ERRORS.unauthorized('bad_token', 'Invalid token');
    await next();
  };
