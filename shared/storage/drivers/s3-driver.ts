import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { unquoteEtag } from '../../object-store/etag.ts';
import { LazyS3Client, loadS3Sdk } from '../../object-store/s3-sdk.ts';
import { splitRelative } from '../resolve-path.ts';
import type { ItemStat, StorageDriver } from './driver.ts';

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/** A driver over `bucket/prefix` on an S3-protocol store. PutObject is atomic by nature. */
export function createS3Driver(opts: {
  client: S3Client | LazyS3Client;
  bucket: string;
  prefix?: string;
}): StorageDriver {
  const { client, bucket } = opts;
  const prefix = opts.prefix ?? '';
  const toKey = (key: string) => prefix + splitRelative(key, 'key').join('/');
  const fromKey = (full: string) => full.slice(prefix.length);

  return {
    kind: 's3',
    async read(key) {
      const { GetObjectCommand } = await loadS3Sdk();
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: toKey(key) }));
        return Buffer.from(
          await (
            out.Body as { transformToByteArray(): Promise<Uint8Array> }
          ).transformToByteArray(),
        );
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
    },
    async write(key, data) {
      const full = toKey(key);
      const { Upload } = await loadS3Sdk();
      // lib-storage switches to multipart for large streams and aborts the upload on failure.
      const sdkClient = client instanceof LazyS3Client ? await client.client() : client;
      await new Upload({
        client: sdkClient,
        params: { Bucket: bucket, Key: full, Body: data },
      }).done();
      return (await this.stat(key)) as ItemStat;
    },
    async stat(key) {
      const { HeadObjectCommand } = await loadS3Sdk();
      try {
        const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: toKey(key) }));
        return {
          key,
          size: h.ContentLength ?? 0,
          mtime: h.LastModified ?? new Date(0),
          etag: unquoteEtag(h.ETag),
        };
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
    },
    async *list(sub = '') {
      const { ListObjectsV2Command } = await loadS3Sdk();
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix + sub,
            ContinuationToken: token,
            MaxKeys: 1000,
          }),
        );
        for (const o of page.Contents ?? []) {
          if (!o.Key) continue;
          yield {
            key: fromKey(o.Key),
            size: o.Size ?? 0,
            mtime: o.LastModified ?? new Date(0),
            etag: unquoteEtag(o.ETag),
          };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },
    async delete(key) {
      const { DeleteObjectCommand } = await loadS3Sdk();
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: toKey(key) }));
    },
    async stream(key, range) {
      const { GetObjectCommand } = await loadS3Sdk();
      try {
        const out = await client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: toKey(key),
            Range: range ? `bytes=${range.start}-${range.end}` : undefined,
          }),
        );
        return out.Body as Readable;
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
    },
  };
}
