import type { Readable } from 'node:stream';

/** What a driver knows about one stored item. A missing item is `null`, never an exception. */
export interface ItemStat {
  key: string;
  size: number;
  mtime: Date;
  etag?: string;
}

/** Byte range, both ends inclusive, as in HTTP `Range`. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The storage contract every backend implements (mounted filesystem, S3/MinIO). Keys are `/`-separated
 * relative references; drivers refuse keys that would leave their root. Writes are atomic: a reader
 * sees the old content or the new, never a partial file.
 */
export interface StorageDriver {
  readonly kind: 'fs' | 's3';
  read(key: string): Promise<Buffer | null>;
  write(key: string, data: Uint8Array | string | Readable): Promise<ItemStat>;
  stat(key: string): Promise<ItemStat | null>;
  /** Items under `prefix` (a key prefix; `''` for all), in key order, lazily. */
  list(prefix?: string): AsyncIterable<ItemStat>;
  /** Deletes the item; deleting a missing item is not an error. */
  delete(key: string): Promise<void>;
  /** A stream of the item (or of `range`), or `null` when missing. */
  stream(key: string, range?: ByteRange): Promise<Readable | null>;
}
