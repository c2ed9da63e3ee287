import type { AccessScope } from '../../shared/auth/access-scope.ts';
import type { Config } from '../../shared/config/load.ts';
import type { Db } from '../../shared/db/lazy-pool.ts';
import { ERRORS } from '../../shared/errors.ts';
import type { S3Clients } from '../../shared/object-store/clients.ts';
import { quoteEtag, unquoteEtag } from '../../shared/object-store/etag.ts';
import type { Presigner } from '../../shared/object-store/presigner.ts';
import { loadS3Sdk } from '../../shared/object-store/s3-sdk.ts';
import { importExternal } from '../../shared/runtime/import-external.ts';
import { splitRelative } from '../../shared/storage/relative-path.ts';
import { expiry, MAX_OBJECT, type UploadRequest } from './core.ts';
import { checkKey, requireOp } from './object-keys.ts';

const MiB = 1024 * 1024;
const MIN_PART = 5 * MiB;
const MAX_PART = 5 * 1024 * MiB;
const MAX_PARTS = 10_000;

/** Part size: the configured size, grown until the part count fits 10,000, within S3's 5 MiB..5 GiB. */
export function planParts(
  size: number,
  preferred: number,
): { partSize: number; partCount: number } {
  if (size > MAX_OBJECT)
    throw ERRORS.validation([{ field: 'size', message: 'exceeds the 5 TiB object limit' }]);
  let partSize = Math.max(MIN_PART, preferred);
  if (Math.ceil(size / partSize) > MAX_PARTS) partSize = Math.ceil(size / MAX_PARTS / MiB) * MiB;
  if (partSize > MAX_PART)
    throw ERRORS.validation([{ field: 'size', message: 'needs parts above 5 GiB' }]);
  return { partSize, partCount: Math.max(1, Math.ceil(size / partSize)) };
}

/** What the upload service uses; built once per app. */
export interface PresignServiceDeps {
  presign: Config['presign'];
  db: Db;
  /** The object store's clients, created on first use (creating them needs the credentials). */
  s3: () => S3Clients;
  /** The presigner for the public endpoint (URLs handed to users). */
  presigner: () => Presigner;
}

/** Multipart uploads (plan, sign parts, record, list, complete, abort), POST policies and listings. */
export function createPresignService({ presign, db, s3, presigner }: PresignServiceDeps) {
  const { ttlS } = presign;

  /** The upload row of `uploadId` when `key` is the caller's and the upload's own. */
  async function upload(scope: AccessScope, uploadId: string, key: string) {
    checkKey(scope, key);
    const res = await db.query<{
      key: string;
      part_count: number;
      part_size: number;
      size: number;
      status: string;
    }>('SELECT key, part_count, part_size, size, status FROM uploads WHERE upload_id = $1', [
      uploadId,
    ]);
    const u = res.rows[0];
    if (!u || u.key !== key) throw ERRORS.notFound('upload', uploadId);
    return u;
  }

  return {
    /**
     * A presigned POST whose policy pins the size (the core signs plain PUTs itself); `sizeRange`
     * replaces the exact size for clients that do not announce one (Uppy's `/s3/params`).
     */
    async postUpload(
      scope: AccessScope,
      key: string,
      body: UploadRequest,
      sizeRange: [number, number] = [body.size, body.size],
    ) {
      // Loaded on first use: few uploads ask for a size-enforcing POST policy.
      const { createPresignedPost } = await importExternal<
        typeof import('@aws-sdk/s3-presigned-post')
      >('@aws-sdk/s3-presigned-post');
      const post = await createPresignedPost(await s3().signer.client(), {
        Bucket: scope.bucket,
        Key: key,
        Conditions: [['content-length-range', ...sizeRange]],
        Fields: body.contentType ? { 'Content-Type': body.contentType } : {},
        Expires: ttlS,
      });
      return {
        method: 'POST' as const,
        url: post.url,
        fields: post.fields,
        key,
        expiresAt: expiry(new Date(), ttlS),
      };
    },

    /** A multipart plan for an upload above the single-PUT limit, recorded for resuming. */
    async planMultipart(scope: AccessScope, key: string, body: UploadRequest) {
      const { partSize, partCount } = planParts(body.size, presign.partBytes);
      const { CreateMultipartUploadCommand } = await loadS3Sdk();
      const created = await s3().admin.send(
        new CreateMultipartUploadCommand({
          Bucket: scope.bucket,
          Key: key,
          ContentType: body.contentType,
        }),
      );
      const uploadId = created.UploadId as string;
      await db.query(
        `INSERT INTO uploads (upload_id, bucket, key, owner, size, part_size, part_count) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [uploadId, scope.bucket, key, scope.sub, body.size, partSize, partCount],
      );
      return {
        method: 'MULTIPART' as const,
        uploadId,
        key,
        partSize,
        partCount,
        expiresAt: expiry(new Date(), ttlS),
      };
    },

    /** Presigned UploadPart URLs for a batch of part numbers. */
    async presignParts(scope: AccessScope, uploadId: string, key: string, partNumbers: number[]) {
      requireOp(scope, 'write');
      const u = await upload(scope, uploadId, key);
      if (u.status !== 'open') throw ERRORS.conflict(`Upload '${uploadId}' is ${u.status}`);
      const bad = partNumbers.filter((n) => n > u.part_count);
      if (bad.length)
        throw ERRORS.validation([
          {
            field: 'partNumbers',
            message: `parts ${bad.join(', ')} exceed the plan's ${u.part_count} parts`,
          },
        ]);
      const p = presigner();
      const now = new Date();
      return {
        uploadId,
        key,
        expiresAt: expiry(now, ttlS),
        parts: partNumbers.map((n) => ({
          partNumber: n,
          url: p.presign({
            method: 'PUT',
            bucket: scope.bucket,
            key,
            expiresIn: ttlS,
            query: { partNumber: String(n), uploadId },
            now,
          }),
        })),
      };
    },

    /** Records a part the client uploaded (its ETag), so a resume works whatever ListParts says. */
    async reportPart(
      scope: AccessScope,
      uploadId: string,
      key: string,
      part: { partNumber: number; etag: string; size?: number },
    ) {
      requireOp(scope, 'write');
      await upload(scope, uploadId, key);
      await db.query(
        `INSERT INTO upload_parts (upload_id, part_number, etag, size) VALUES ($1, $2, $3, $4)
       ON CONFLICT (upload_id, part_number) DO UPDATE SET etag = EXCLUDED.etag, size = EXCLUDED.size, reported_at = now()`,
        [uploadId, part.partNumber, unquoteEtag(part.etag), part.size ?? null],
      );
    },

    /** Parts uploaded so far: the server's ListParts merged with what clients reported; paged. */
    async listParts(
      scope: AccessScope,
      uploadId: string,
      key: string,
      cursor: number,
      limit: number,
    ) {
      requireOp(scope, 'write');
      const u = await upload(scope, uploadId, key);
      const parts = new Map<
        number,
        { partNumber: number; etag: string; size: number | null; source: string }
      >();
      const reported = await db.query<{
        part_number: number;
        etag: string;
        size: number | null;
      }>(
        'SELECT part_number, etag, size FROM upload_parts WHERE upload_id = $1 AND part_number > $2 ORDER BY part_number LIMIT $3',
        [uploadId, cursor, limit],
      );
      for (const r of reported.rows)
        parts.set(r.part_number, {
          partNumber: r.part_number,
          etag: r.etag,
          size: r.size,
          source: 'reported',
        });
      const { ListPartsCommand } = await loadS3Sdk();
      try {
        const listed = await s3().admin.send(
          new ListPartsCommand({
            Bucket: scope.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumberMarker: cursor ? String(cursor) : undefined,
            MaxParts: limit,
          }),
        );
        for (const p of listed.Parts ?? []) {
          if (p.PartNumber)
            parts.set(p.PartNumber, {
              partNumber: p.PartNumber,
              etag: unquoteEtag(p.ETag ?? ''),
              size: p.Size ?? null,
              source: 'server',
            });
        }
      } catch {
        // Some servers answer ListParts with nothing or an error mid-upload; the reported parts stand.
      }
      const page = [...parts.values()].sort((a, b) => a.partNumber - b.partNumber).slice(0, limit);
      const last = page.at(-1);
      return {
        uploadId,
        key,
        status: u.status,
        partCount: u.part_count,
        partSize: u.part_size,
        parts: page,
        nextCursor: page.length === limit && last ? last.partNumber : null,
      };
    },

    async complete(
      scope: AccessScope,
      uploadId: string,
      key: string,
      parts: { partNumber: number; etag: string }[],
    ) {
      requireOp(scope, 'write');
      const u = await upload(scope, uploadId, key);
      if (u.status !== 'open') throw ERRORS.conflict(`Upload '${uploadId}' is ${u.status}`);
      const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
      const numbers = sorted.map((p) => p.partNumber);
      if (new Set(numbers).size !== numbers.length)
        throw ERRORS.validation([{ field: 'parts', message: 'part numbers repeat' }]);
      const { CompleteMultipartUploadCommand } = await loadS3Sdk();
      try {
        const out = await s3().admin.send(
          new CompleteMultipartUploadCommand({
            Bucket: scope.bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: {
              Parts: sorted.map((p) => ({
                PartNumber: p.partNumber,
                ETag: quoteEtag(p.etag),
              })),
            },
          }),
        );
        await db.query(
          `UPDATE uploads SET status = 'completed', finished_at = now() WHERE upload_id = $1`,
          [uploadId],
        );
        return { key, etag: unquoteEtag(out.ETag ?? ''), location: out.Location ?? null };
      } catch (err) {
        const e = err as {
          name?: string;
          message?: string;
          $metadata?: { httpStatusCode?: number };
        };
        if (e.$metadata?.httpStatusCode && e.$metadata.httpStatusCode < 500) {
          const message =
            `The object store refused to complete the upload: ${e.name ?? ''} ${e.message ?? ''}`.trim();
          throw e.name === 'InvalidPart' || e.name === 'InvalidPartOrder'
            ? ERRORS.invalidPart(message)
            : ERRORS.badRequest(message);
        }
        throw err;
      }
    },

    async abort(scope: AccessScope, uploadId: string, key: string) {
      requireOp(scope, 'write');
      await upload(scope, uploadId, key);
      let storeAborted = true;
      const { AbortMultipartUploadCommand } = await loadS3Sdk();
      try {
        await s3().admin.send(
          new AbortMultipartUploadCommand({ Bucket: scope.bucket, Key: key, UploadId: uploadId }),
        );
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata
          ?.httpStatusCode;
        // 404: already gone. 405/501: a store without AbortMultipartUpload (the local test server);
        // the parts then expire by the store's own lifecycle, and the answer says so.
        if (status === 405 || status === 501) storeAborted = false;
        else if (status !== 404) throw err;
      }
      await db.query(
        `UPDATE uploads SET status = 'aborted', finished_at = now() WHERE upload_id = $1`,
        [uploadId],
      );
      return { uploadId, key, status: 'aborted' as const, storeAborted };
    },

    /** The caller's objects (or a sub-prefix of them), one page of up to 1,000. */
    async listObjects(
      scope: AccessScope,
      sub: string | undefined,
      cursor: string | undefined,
      limit: number,
    ) {
      requireOp(scope, 'list');
      const prefix = scope.prefix + (sub ?? '');
      if (sub) splitRelative(sub.replace(/\/$/, ''), 'prefix');
      const { ListObjectsV2Command } = await loadS3Sdk();
      const out = await s3().internal.send(
        new ListObjectsV2Command({
          Bucket: scope.bucket,
          Prefix: prefix,
          ContinuationToken: cursor,
          MaxKeys: limit,
        }),
      );
      return {
        prefix,
        objects: (out.Contents ?? []).map((o) => ({
          key: o.Key as string,
          size: o.Size ?? 0,
          etag: unquoteEtag(o.ETag ?? ''),
          lastModified: o.LastModified?.toISOString(),
        })),
        nextCursor: out.IsTruncated ? (out.NextContinuationToken ?? null) : null,
      };
    },
  };
}

export type PresignService = ReturnType<typeof createPresignService>;
