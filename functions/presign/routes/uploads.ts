// Uploads: a single presigned PUT (or size-pinning POST) up to the single-PUT limit, and multipart
// uploads above it: plan, sign parts, record parts, list them for a resume, complete, abort.
import { ApiRouter, createRoute, json } from '../../../shared/http/api-router.ts';
import * as z from '../../../shared/validation/zod.ts';
import { type CoreEnv, type PresignCoreDeps, signUpload, uploadBody } from '../core.ts';
import type { PresignService } from '../presign-service.ts';
import { accessFailures, answers, failures, instant, pageLimit, text1024 } from './responses.ts';

const partKey = z.string().check(z.minLength(1));
const etag = z.string().check(z.minLength(1), z.maxLength(200));
const keyQuery = z.object({ key: text1024 });
const uploadIdParam = z.object({ uploadId: text1024 });
const partNumber = z.number().check(z.int(), z.minimum(1), z.maximum(10_000));

const singlePut = z.object({
  method: z.literal('PUT'),
  url: z.string(),
  headers: z
    .record(z.string(), z.string())
    .check(z.meta({ description: 'Headers the PUT must send (checksum, content type)' })),
  key: z.string(),
  expiresAt: instant,
});
const postPolicy = z.object({
  method: z.literal('POST'),
  url: z.string(),
  fields: z.record(z.string(), z.string()).check(z.meta({ description: 'Form fields to send' })),
  key: z.string(),
  expiresAt: instant,
});
const multipartPlan = z.object({
  method: z.literal('MULTIPART'),
  uploadId: z.string(),
  key: z.string(),
  partSize: z.number(),
  partCount: z.number(),
  expiresAt: instant,
});

/** `POST /api/v1/uploads` (the core) and, with the Node service, the multipart routes. */
export function uploadRoutes(core: PresignCoreDeps, uploads?: PresignService) {
  const r = new ApiRouter<CoreEnv>();
  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/uploads',
      summary: 'Presigned PUT (or POST) up to the single-PUT limit; a multipart plan above it',
      request: { body: json(uploadBody) },
      responses: {
        ...answers('Upload instructions', z.union([singlePut, postPolicy, multipartPlan])),
        ...failures(...accessFailures, 413, 415),
      },
    }),
    async (c) => c.json(await signUpload(core, c.get('scope'), c.req.valid('json')), 200),
  );
  if (!uploads) return r;

  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/uploads/{uploadId}/parts',
      summary: 'Presigned UploadPart URLs for a batch of parts',
      request: {
        params: uploadIdParam,
        body: json(
          z.strictObject({
            key: partKey,
            partNumbers: z.array(partNumber).check(z.minLength(1), z.maxLength(1000)),
          }),
        ),
      },
      responses: {
        ...answers(
          'Part URLs',
          z.object({
            uploadId: z.string(),
            key: z.string(),
            expiresAt: instant,
            parts: z.array(z.object({ partNumber: z.number(), url: z.string() })),
          }),
        ),
        ...failures(...accessFailures, 404, 409),
      },
    }),
    async (c) => {
      const { key, partNumbers } = c.req.valid('json');
      const id = c.req.valid('param').uploadId;
      return c.json(await uploads.presignParts(c.get('scope'), id, key, partNumbers), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'put',
      path: '/api/v1/uploads/{uploadId}/parts/{partNumber}',
      summary: 'Record an uploaded part and its ETag (resume does not depend on ListParts)',
      request: {
        params: z.extend(uploadIdParam, {
          partNumber: z.coerce.number().check(z.int(), z.minimum(1), z.maximum(10_000)),
        }),
        body: json(
          z.strictObject({
            key: partKey,
            etag,
            size: z.optional(z.number().check(z.int(), z.minimum(0))),
          }),
        ),
      },
      responses: {
        ...answers(
          'Recorded',
          z.object({ uploadId: z.string(), partNumber: z.number(), status: z.literal('recorded') }),
        ),
        ...failures(...accessFailures, 404),
      },
    }),
    async (c) => {
      const { uploadId, partNumber: n } = c.req.valid('param');
      const { key, etag: tag, size } = c.req.valid('json');
      await uploads.reportPart(c.get('scope'), uploadId, key, { partNumber: n, etag: tag, size });
      return c.json({ uploadId, partNumber: n, status: 'recorded' as const }, 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/uploads/{uploadId}',
      summary: 'Parts uploaded so far (paged)',
      request: {
        params: uploadIdParam,
        query: z.extend(keyQuery, {
          cursor: z._default(z.coerce.number().check(z.int(), z.minimum(0)), 0),
          limit: pageLimit,
        }),
      },
      responses: {
        ...answers(
          'Parts',
          z.object({
            uploadId: z.string(),
            key: z.string(),
            status: z.enum(['open', 'completed', 'aborted']),
            partCount: z.number(),
            partSize: z.number(),
            parts: z.array(
              z.object({
                partNumber: z.number(),
                etag: z.string(),
                size: z.nullable(z.number()),
                source: z.enum(['reported', 'server']),
              }),
            ),
            nextCursor: z
              .nullable(z.number())
              .check(z.meta({ description: 'Pass as `cursor` for the next page' })),
          }),
        ),
        ...failures(...accessFailures, 404),
      },
    }),
    async (c) => {
      const { key, cursor, limit } = c.req.valid('query');
      const id = c.req.valid('param').uploadId;
      return c.json(await uploads.listParts(c.get('scope'), id, key, cursor, limit), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/uploads/{uploadId}/complete',
      summary: 'Complete a multipart upload',
      request: {
        params: uploadIdParam,
        body: json(
          z.strictObject({
            key: partKey,
            parts: z
              .array(z.strictObject({ partNumber, etag }))
              .check(z.minLength(1), z.maxLength(10_000)),
          }),
        ),
      },
      responses: {
        ...answers(
          'The object',
          z.object({ key: z.string(), etag: z.string(), location: z.nullable(z.string()) }),
        ),
        ...failures(...accessFailures, 404, 409),
      },
    }),
    async (c) => {
      const { key, parts } = c.req.valid('json');
      const id = c.req.valid('param').uploadId;
      return c.json(await uploads.complete(c.get('scope'), id, key, parts), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/uploads/{uploadId}',
      summary: 'Abort a multipart upload',
      request: { params: uploadIdParam, query: keyQuery },
      responses: {
        ...answers(
          'Aborted',
          z.object({
            uploadId: z.string(),
            key: z.string(),
            status: z.literal('aborted'),
            storeAborted: z.boolean().check(
              z.meta({
                description: 'false: the store cannot abort; its lifecycle expires the parts',
              }),
            ),
          }),
        ),
        ...failures(...accessFailures, 404),
      },
    }),
    async (c) =>
      c.json(
        await uploads.abort(
          c.get('scope'),
          c.req.valid('param').uploadId,
          c.req.valid('query').key,
        ),
        200,
      ),
  );
  return r;
}
