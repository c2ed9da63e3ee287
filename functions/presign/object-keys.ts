// Key rules of the presign function, in plain code (no Node built-ins): shared by the Node function and
// its Cloudflare Workers runtime.
import type { AccessScope } from '../../shared/auth/access-scope.ts';
import type { BucketOp } from '../../shared/auth/bucket-token.ts';
import { ERRORS } from '../../shared/errors.ts';
import { splitRelative } from '../../shared/storage/relative-path.ts';

/** Refuses the call unless the scope allows `op`. */
export function requireOp(scope: AccessScope, op: BucketOp): void {
  if (!scope.ops.includes(op)) throw ERRORS.forbidden(`This token does not allow '${op}'`);
}

/** The object key for an upload `name`: normalised, below the caller's home folder, never outside it. */
export function uploadKey(scope: AccessScope, name: string): string {
  const segments = splitRelative(name.replace(/^\/+/, ''), 'name');
  return scope.home + segments.join('/');
}

/** Validates a full object key the caller wants to read or act on. */
export function checkKey(scope: AccessScope, key: string, field = 'key'): string {
  splitRelative(key, field);
  if (!key.startsWith(scope.prefix))
    throw ERRORS.forbidden(`${field} '${key}' is outside your prefix '${scope.prefix}'`);
  return key;
}
