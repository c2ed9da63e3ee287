import type { BucketOp } from './bucket-token.ts';

/** What the caller may touch on the object store, from a user JWT or a bucket token. */
export interface AccessScope {
  sub: string;
  admin: boolean;
  via: 'user' | 'bucket';
  bucket: string;
  /** Every key the caller reads, lists or writes starts with this. */
  prefix: string;
  /** Where the caller's uploads go (`<MINIO_OBJECT_PREFIX><user>/`, or the bucket token's prefix). */
  home: string;
  ops: BucketOp[];
}
