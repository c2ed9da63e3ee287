import {
  createRemoteJWKSet,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from 'jose';
import type { AuthSettings } from '../config/settings.ts';
import { AppError, ERRORS } from '../errors.ts';

/** Who is calling: a user from a JWT. Bucket tokens (presign) add their own scope on top. */
export interface Principal {
  sub: string;
  roles: string[];
  /** `user` for access tokens, `bucket` for bucket tokens. */
  kind: 'user' | 'bucket';
  claims: JWTPayload;
}

export const isAdmin = (p: Principal) => p.roles.includes('admin');

const encoder = new TextEncoder();

/** Turns a jose failure into a 401 with a stable reason (never the library's stack). */
export function authError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof joseErrors.JWTExpired) return ERRORS.unauthorized('expired', 'Token expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'exp' && err.reason === 'missing')
      return ERRORS.unauthorized('bad_claims', "Token has no 'exp': tokens must expire");
    if (err.claim === 'nbf') return ERRORS.unauthorized('not_yet_valid', 'Token not yet valid');
    return ERRORS.unauthorized('bad_claims', `Token claim '${err.claim}' is invalid`);
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
    return ERRORS.unauthorized('unsupported_algorithm', 'Token algorithm not accepted');
  }
  if (
    err instanceof joseErrors.JWSSignatureVerificationFailed ||
    err instanceof joseErrors.JWKSNoMatchingKey
  ) {
    return ERRORS.unauthorized('bad_signature', 'Token signature is invalid');
  }
  return ERRORS.unauthorized('malformed_token', 'Token is malformed');
}

/** Extracts the bearer token from an Authorization header value. */
export function bearer(header: string | undefined | null): string {
  if (!header) throw ERRORS.unauthorized('missing_token');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m?.[1])
    throw ERRORS.unauthorized('malformed_token', 'Authorization header must be "Bearer <token>"');
  return m[1];
}

/** The JSON of a JWT's protected header (throws SyntaxError when it is not one). */
function jwtHeader(token: string): { alg?: string } {
  const part = (token.split('.')[0] ?? '').replace(/-/g, '+').replace(/_/g, '/');
  let raw: string;
  try {
    raw = atob(part);
  } catch {
    throw new SyntaxError('header is not base64url');
  }
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(raw, (ch) => ch.charCodeAt(0))));
}

/**
 * Verifies user access tokens: HS256 with `JWT_SECRET`, or RS256/ES256 against `SLUICE_JWKS_URL`.
 * Algorithms are pinned, so `alg: none` and algorithm confusion are refused by construction. Every
 * token must carry `exp`, and its lifetime may not exceed `maxTokenTtlS` (`SLUICE_JWT_MAX_TTL_S`).
 * Node-free: the presign core runs it in workerd too.
 */
export function createTokenVerifier(
  auth: Pick<AuthSettings, 'jwtSecret' | 'jwksUrl' | 'issuer' | 'audience' | 'maxTokenTtlS'>,
) {
  const jwks = auth.jwksUrl
    ? createRemoteJWKSet(new URL(auth.jwksUrl), { cooldownDuration: 30_000 })
    : undefined;
  // Imported once, on the first token (not at start: a cold start does not pay for Web Crypto); importing
  // the secret on every call would cost a thread-pool round trip each time.
  const jwtSecret = auth.jwtSecret;
  let secretKey: Promise<CryptoKey> | undefined;
  const secret = jwtSecret
    ? () =>
        (secretKey ??= crypto.subtle.importKey(
          'raw',
          encoder.encode(jwtSecret),
          { name: 'HMAC', hash: 'SHA-256' },
          false,
          ['verify'],
        ))
    : undefined;
  const claimChecks = {
    issuer: auth.issuer,
    audience: auth.audience,
    clockTolerance: 5,
    requiredClaims: ['exp'],
  };
  const maxTtlS = auth.maxTokenTtlS;
  // Tokens already verified, until they expire: clients send the same token with every request, and a
  // signature check is a thread-pool round trip. Bounded; cleared when full.
  const verified = new Map<string, Principal>();

  return async function verify(token: string): Promise<Principal> {
    const known = verified.get(token);
    if (known) {
      const exp = known.claims.exp;
      if (exp !== undefined && exp * 1000 > Date.now() - 5000) return known;
      verified.delete(token);
    }
    const principal = await verifyUncached(token);
    if (verified.size >= 10_000) verified.clear();
    verified.set(token, principal);
    return principal;
  };

  async function verifyUncached(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      const header = jwtHeader(token);
      if (header.alg?.startsWith('HS')) {
        if (!secret)
          throw ERRORS.unauthorized('unsupported_algorithm', 'HS256 tokens are not accepted here');
        ({ payload } = await jwtVerify(token, await secret(), {
          ...claimChecks,
          algorithms: ['HS256'],
        }));
      } else {
        if (!jwks)
          throw ERRORS.unauthorized('unsupported_algorithm', 'Token algorithm not accepted');
        ({ payload } = await jwtVerify(token, jwks, {
          ...claimChecks,
          algorithms: ['RS256', 'ES256'],
        }));
      }
    } catch (err) {
      if (err instanceof SyntaxError)
        throw ERRORS.unauthorized('malformed_token', 'Token is malformed');
      throw authError(err);
    }
    if (payload.typ !== undefined && payload.typ !== 'access') {
      throw ERRORS.unauthorized('wrong_token_type', 'Not an access token');
    }
    // `exp` is present (requiredClaims); a token minted to live longer than allowed is refused
    // outright, and one without `iat` may not reach further ahead than the maximum either.
    const exp = payload.exp as number;
    const nowS = Date.now() / 1000;
    const from = typeof payload.iat === 'number' ? Math.min(payload.iat, nowS) : nowS;
    if (exp - from > maxTtlS + 5)
      throw ERRORS.unauthorized(
        'bad_claims',
        `Token lifetime exceeds the maximum of ${maxTtlS} s (SLUICE_JWT_MAX_TTL_S)`,
      );
    if (typeof payload.sub !== 'string' || payload.sub === '')
      throw ERRORS.unauthorized('bad_claims', "Token has no 'sub'");
    const roles = Array.isArray(payload.roles)
      ? payload.roles.filter((r): r is string => typeof r === 'string')
      : [];
    return { sub: payload.sub, roles, kind: 'user', claims: payload };
  }
}

export type TokenVerifier = ReturnType<typeof createTokenVerifier>;

/** Mints an HS256 access token (local stack dev token, CLI `sluice token`, tests). */
export async function mintAccessToken(
  auth: Pick<AuthSettings, 'jwtSecret' | 'issuer' | 'audience'>,
  opts: { sub: string; roles?: string[]; ttlS?: number; extra?: Record<string, unknown> },
): Promise<string> {
  if (!auth.jwtSecret) throw new Error('JWT_SECRET is required to mint tokens');
  let jwt = new SignJWT({ roles: opts.roles ?? [], typ: 'access', ...opts.extra })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(opts.sub)
    .setIssuedAt()
    .setExpirationTime(`${opts.ttlS ?? 600}s`);
  if (auth.issuer) jwt = jwt.setIssuer(auth.issuer);
  if (auth.audience) jwt = jwt.setAudience(auth.audience);
  return jwt.sign(encoder.encode(auth.jwtSecret));
}
