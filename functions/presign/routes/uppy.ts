// Companion's S3 protocol, as `@uppy/aws-s3` speaks it (`companionEndpoint` in v6, `endpoint` with
// `headers` before), under `/api/v1/uppy/s3`: any Uppy app uploads through Sluice. Keys are made by the
// same rule as `POST /api/v1/uploads` (the caller's folder) and the work is the presign service's.
import { ApiRouter, createRoute, json } from '../../../shared/http/api-router.ts';
import * as z from '../../../shared/validation/zod.ts';
import { type CoreEnv, MAX_OBJECT, type PresignCoreDeps } from '../core.ts';
import { requireOp, uploadKey } from '../object-keys.ts';
import type { PresignService } from '../presign-service.ts';

const PREFIX = '/api/v1/uppy/s3';
const text1024 = z.string().check(z.minLength(1), z.maxLength(1024));
const keyQuery = z.object({ key: text1024 });
const uploadIdParam = z.object({ uploadId: text1024 });
const partNumber = z.coerce.number().check(z.int(), z.minimum(1), z.maximum(10_000));
const errorBody = z.object({
  statusCode: z.number(),
  code: z.string(),
  error: z.string(),
  message: z.string(),
  details: z.optional(z.unknown()),
  requestId: z.optional(z.string()),
});
const errors = {
  400: { description: 'A bad field, named in details', ...json(errorBody) },
  401: { description: 'No valid user JWT or bucket token', ...json(errorBody) },
  403: { description: 'The token does not allow writing there', ...json(errorBody) },
};
const withNotFound = {
  ...errors,
  404: { description: 'No such upload for this key', ...json(errorBody) },
  409: { description: 'The upload is completed or aborted', ...json(errorBody) },
};
const s3Part = z.object({ PartNumber: z.number(), ETag: z.string(), Size: z.nullable(z.number()) });

/**
 * The Companion S3 routes. Companion's protocol does not carry the file size when a multipart upload
 * is created, and the client picks its own part size, so the upload is recorded with the 5 TiB ceiling
 * (10,000 parts allowed) rather than a plan.
 */
export function uppyRoutes(core: PresignCoreDeps, uploads: PresignService): ApiRouter<CoreEnv> {
  // The token check is the presign groups' own (ACCESS_PATHS in core.ts lists this prefix).
  const r = new ApiRouter<CoreEnv>();
  const settings = core.settings;
  const ttlS = () => settings.presign.ttlS;

  r.openapi(
    createRoute({
      method: 'get',
      path: `${PREFIX}/params`,
      summary: 'Uppy: a presigned POST (form fields) for a single-request upload into your folder',
      request: {
        query: z.object({
          filename: text1024,
          type: z.optional(z.string().check(z.maxLength(255))),
        }),
      },
      responses: {
        200: {
          description: 'POST the file with these form fields to url',
          ...json(
            z.object({
              method: z.literal('POST'),
              url: z.string(),
              fields: z.record(z.string(), z.string()),
              expires: z.number(),
            }),
          ),
        },
        ...errors,
      },
    }),
    async (c) => {
      const scope = c.get('scope');
      requireOp(scope, 'write');
      const { filename, type } = c.req.valid('query');
      const key = uploadKey(scope, filename);
      const max = settings.presign.singlePutMaxBytes;
      const post = await uploads.postUpload(
        scope,
        key,
        { name: filename, size: 0, contentType: type || undefined },
        [0, max],
      );
      return c.json(
        { method: 'POST' as const, url: post.url, fields: post.fields, expires: ttlS() },
        200,
      );
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: `${PREFIX}/multipart`,
      summary: 'Uppy: create a multipart upload in your folder',
      request: {
        body: json(
          z.object({
            filename: text1024,
            type: z.optional(z.string().check(z.maxLength(255))),
            metadata: z.optional(z.record(z.string(), z.unknown())),
          }),
        ),
      },
      responses: {
        200: {
          description: 'The key (in your folder) and the upload id',
          ...json(z.object({ key: z.string(), uploadId: z.string(), bucket: z.string() })),
        },
        ...errors,
      },
    }),
    async (c) => {
      const scope = c.get('scope');
      requireOp(scope, 'write');
      const { filename, type } = c.req.valid('json');
      const key = uploadKey(scope, filename);
      const plan = await uploads.planMultipart(scope, key, {
        name: filename,
        size: MAX_OBJECT,
        contentType: type || undefined,
      });
      return c.json({ key: plan.key, uploadId: plan.uploadId, bucket: scope.bucket }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: `${PREFIX}/multipart/{uploadId}`,
      summary: 'Uppy: the parts uploaded so far (resume)',
      request: { params: uploadIdParam, query: keyQuery },
      responses: {
        200: { description: 'Parts, as S3 ListParts names them', ...json(z.array(s3Part)) },
        ...withNotFound,
      },
    }),
    async (c) => {
      const { uploadId } = c.req.valid('param');
      const { key } = c.req.valid('query');
      const parts: z.infer<typeof s3Part>[] = [];
      for (let cursor = 0; ; ) {
        const page = await uploads.listParts(c.get('scope'), uploadId, key, cursor, 1000);
        for (const p of page.parts)
          parts.push({ PartNumber: p.partNumber, ETag: p.etag, Size: p.size });
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      return c.json(parts, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: `${PREFIX}/multipart/{uploadId}/batch`,
      summary: 'Uppy: presigned UploadPart URLs for a comma-separated list of part numbers',
      request: {
        params: uploadIdParam,
        query: z.extend(keyQuery, {
          partNumbers: z
            .string()
            .check(z.regex(/^\d{1,5}(,\d{1,5}){0,999}$/, 'comma-separated part numbers')),
        }),
      },
      responses: {
        200: {
          description: 'URLs by part number',
          ...json(z.object({ presignedUrls: z.record(z.string(), z.string()) })),
        },
        ...withNotFound,
      },
    }),
    async (c) => {
      const { uploadId } = c.req.valid('param');
      const { key, partNumbers } = c.req.valid('query');
      const numbers = partNumbers.split(',').map(Number);
      const signed = await uploads.presignParts(c.get('scope'), uploadId, key, numbers);
      return c.json(
        {
          presignedUrls: Object.fromEntries(signed.parts.map((p) => [String(p.partNumber), p.url])),
        },
        200,
      );
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: `${PREFIX}/multipart/{uploadId}/{partNumber}`,
      summary: 'Uppy: a presigned UploadPart URL for one part',
      request: { params: z.extend(uploadIdParam, { partNumber }), query: keyQuery },
      responses: {
        200: {
          description: 'PUT the part to url; its ETag header is exposed by the bucket CORS',
          ...json(z.object({ url: z.string(), expires: z.number() })),
        },
        ...withNotFound,
      },
    }),
    async (c) => {
      const { uploadId, partNumber: n } = c.req.valid('param');
      const signed = await uploads.presignParts(
        c.get('scope'),
        uploadId,
        c.req.valid('query').key,
        [n],
      );
      return c.json({ url: signed.parts[0]?.url ?? '', expires: ttlS() }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: `${PREFIX}/multipart/{uploadId}/complete`,
      summary: 'Uppy: complete a multipart upload',
      request: {
        params: uploadIdParam,
        query: keyQuery,
        body: json(
          z.object({
            parts: z
              .array(
                z.object({
                  PartNumber: partNumber,
                  ETag: z.string().check(z.minLength(1), z.maxLength(200)),
                }),
              )
              .check(z.minLength(1), z.maxLength(10_000)),
          }),
        ),
      },
      responses: {
        200: {
          description: 'The object',
          ...json(z.object({ location: z.string(), key: z.string(), bucket: z.string() })),
        },
        ...withNotFound,
      },
    }),
    async (c) => {
      const scope = c.get('scope');
      const { key } = c.req.valid('query');
      const parts = c.req
        .valid('json')
        .parts.map((p) => ({ partNumber: p.PartNumber, etag: p.ETag }));
      const done = await uploads.complete(scope, c.req.valid('param').uploadId, key, parts);
      const location =
        done.location ??
        `${settings.s3.publicEndpoint}/${scope.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
      return c.json({ location, key: done.key, bucket: scope.bucket }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'delete',
      path: `${PREFIX}/multipart/{uploadId}`,
      summary: 'Uppy: abort a multipart upload',
      request: { params: uploadIdParam, query: keyQuery },
      responses: {
        200: { description: 'Aborted (empty object)', ...json(z.object({})) },
        ...withNotFound,
      },
    }),
    async (c) => {
      await uploads.abort(c.get('scope'), c.req.valid('param').uploadId, c.req.valid('query').key);
      return c.json({}, 200);
    },
  );
  return r;
}
