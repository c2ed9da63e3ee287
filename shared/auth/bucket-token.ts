import { jwtVerify, SignJWT } from 'jose';
import { ERRORS } from '../errors.ts';
import { authError } from './jwt.ts';

export type BucketOp = 'read' | 'write' | 'list';
export const ALL_OPS: BucketOp[] = ['read', 'write', 'list'];

/** What a bucket token allows: one bucket, one key prefix, some operations. */
export interface BucketScope {
  sub: string;
  bucket: string;
  prefix: string;
  ops: BucketOp[];
  expiresAt: Date;
}

const enc = new TextEncoder();

/** Mints a short-lived bucket token (HS256 with BUCKET_TOKEN_SECRET). */
export async function mintBucketToken(
  secret: string,
  s: Omit<BucketScope, 'expiresAt'>,
  ttlS: number,
): Promise<{ token: string; expiresAt: Date }> {
  const expiresAt = new Date((Math.floor(Date.now() / 1000) + ttlS) * 1000);
  const token = await new SignJWT({ typ: 'bucket', bucket: s.bucket, prefix: s.prefix, ops: s.ops })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(s.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(enc.encode(secret));
  return { token, expiresAt };
}

/** True when the token's payload says it is a bucket token (checked before verification picks a key). */
export function looksLikeBucketToken(token: string): boolean {
  try {
    const payload = JSON.parse(
      atob((token.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/')),
    ) as { typ?: string };
    return payload.typ === 'bucket';
  } catch {
    return false;
  }
}

/** Verifies a bucket token and returns its scope; 401 with a reason otherwise. */
export async function verifyBucketToken(secret: string, token: string): Promise<BucketScope> {
  try {
    const { payload } = await jwtVerify(token, enc.encode(secret), {
      algorithms: ['HS256'],
      clockTolerance: 5,
      requiredClaims: ['exp'],
    });
    const ops = Array.isArray(payload.ops)
      ? payload.ops.filter((o): o is BucketOp => ALL_OPS.includes(o as BucketOp))
      : [];
    if (
      payload.typ !== 'bucket' ||
      typeof payload.bucket !== 'string' ||
      typeof payload.prefix !== 'string' ||
      !payload.sub
    ) {
      throw ERRORS.unauthorized('bad_claims', 'Not a bucket token');
    }
    return {
      sub: payload.sub,
      bucket: payload.bucket,
      prefix: payload.prefix,
      ops,
      expiresAt: new Date((payload.exp ?? 0) * 1000),
    };
  } catch (err) {
    throw authError(err);
  }
}
