import { Readable } from 'node:stream';
import { answer, createRoute, json, ok } from '../../shared/http/api-router.ts';
import { type AppRouter, createRouter, requireUser } from '../../shared/http/app-kit.ts';
import { parseRange, partialHeaders } from '../../shared/http/range.ts';
import type { Services } from '../../shared/services.ts';
import * as z from '../../shared/validation/zod.ts';
import { datasetService, type Role } from './dataset-service.ts';

const pathField = z.string().check(z.minLength(1), z.maxLength(4096));

/** Either server-visible paths (the body existing clients send) or logical references. */
const registerBody = z
  .strictObject({
    image_path: z.optional(pathField),
    h5ad_path: z.optional(pathField),
    preview_path: z.optional(pathField),
    storage_backend: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
    user_subdir: z.optional(z.string().check(z.minLength(1), z.maxLength(255))),
    image: z.optional(pathField),
    h5ad: z.optional(pathField),
    preview: z.optional(pathField),
    dataset_id: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
    copy_files: z._default(z.boolean(), false),
    marker_cols: z._default(
      z.array(z.string().check(z.minLength(1), z.maxLength(255))).check(z.maxLength(1000)),
      [],
    ),
    overwrite: z._default(z.boolean(), false),
    /**
     * Build a multiscale OME-Zarr preview (a `preview` job): default when the image needs one (over
     * 16k or the auto-load limit, no pyramid, no preview given); `false` never builds one.
     */
  })
  .check(
    z.superRefine((b, ctx) => {
      const logical = b.storage_backend !== undefined;
      for (const f of logical
        ? (['image_path', 'h5ad_path', 'preview_path'] as const)
        : (['image', 'h5ad', 'preview', 'user_subdir'] as const)) {
        if (b[f] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [f],
            message: logical
              ? 'use image/h5ad/preview with storage_backend'
              : 'needs storage_backend',
          });
      }
    }),
  );

const idParam = z.object({ id: z.string().check(z.minLength(1), z.maxLength(200)) });

/** Datasets function: in-place registration of images and AnnData tables, manifests, file serving. */
export function datasetsRoutes(services: Services): AppRouter {
  const r = createRouter();
  r.use('/api/v1/datasets/*', requireUser());

  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/datasets/register',
      summary: 'Register an image and an AnnData file in place',
      request: { body: json(registerBody) },
      responses: {
        200: answer('Already registered with the same files'),
        201: answer('Registered'),
      },
    }),
    async (c) => {
      const { created, ...out } = await datasetService.register(
        services,
        c.get('principal'),
        c.req.valid('json'),
      );
      return c.json(out, created ? 201 : 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/datasets',
      summary: 'Datasets (own; admins all), paged',
      request: {
        query: z.object({
          cursor: z.optional(z.string().check(z.maxLength(200))),
          limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(500)), 100),
        }),
      },
      responses: ok('A page'),
    }),
    async (c) => {
      const q = c.req.valid('query');
      return c.json(
        await datasetService.list(services, c.get('principal'), q.cursor, q.limit),
        200,
      );
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/datasets/{id}',
      summary: 'A manifest, with the integrity of its sources',
      request: { params: idParam },
      responses: ok('Manifest'),
    }),
    async (c) => {
      const m = await datasetService.get(services, c.get('principal'), c.req.valid('param').id);
      return c.json({ manifest: m, integrity: await datasetService.integrity(services, m) }, 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/datasets/{id}/verify',
      summary: 'Re-check the sources (ok, stale, missing)',
      request: { params: idParam },
      responses: ok('Integrity'),
    }),
    async (c) => {
      const m = await datasetService.get(services, c.get('principal'), c.req.valid('param').id);
      return c.json(
        { dataset_id: m.dataset_id, ...(await datasetService.integrity(services, m)) },
        200,
      );
    },
  );
  r.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/datasets/{id}',
      summary: "Remove the registration and Sluice's copies (never the originals)",
      request: { params: idParam },
      responses: ok('Deleted'),
    }),
    async (c) =>
      c.json(
        await datasetService.remove(services, c.get('principal'), c.req.valid('param').id),
        200,
      ),
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/datasets/{id}/files/{role}',
      summary: 'Stream a source file (Range supported); refuses changed or missing files',
      request: { params: z.extend(idParam, { role: z.enum(['image', 'h5ad', 'preview']) }) },
      responses: {
        200: { description: 'The file' },
        206: { description: 'A byte range' },
        302: { description: 'Object-store files: a presigned URL' },
      },
    }),
    async (c) => {
      const { id, role } = c.req.valid('param');
      const file = await datasetService.file(services, c.get('principal'), id, role as Role);
      if (file.redirect !== undefined) return c.redirect(file.redirect, 302);
      const headers: Record<string, string> = {
        'accept-ranges': 'bytes',
        'content-type': 'application/octet-stream',
      };
      const range = parseRange(c.req.header('range'), file.size);
      if (range) {
        const fh = await file.open();
        const body = Readable.toWeb(fh.createReadStream(range)) as ReadableStream;
        return c.body(body, 206, { ...headers, ...partialHeaders(range, file.size) });
      }
      const fh = await file.open();
      return c.body(Readable.toWeb(fh.createReadStream()) as ReadableStream, 200, {
        ...headers,
        'content-length': String(file.size),
      });
    },
  );
  return r;
}
