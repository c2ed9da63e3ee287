import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { createRoute, z } from '@hono/zod-openapi';
import { AppError } from '../../shared/errors.ts';
import { type AppRouter, createRouter, requireUser } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import { datasetService, type Role } from './dataset-service.ts';

const json = <T extends z.ZodTypeAny>(schema: T) => ({
  content: { 'application/json': { schema } },
});
const anyObject = z.object({}).passthrough();
const ok = (description: string) => ({ 200: { description, ...json(anyObject) } });
const pathField = z.string().min(1).max(4096);

/** Either server-visible paths (the body existing clients send) or logical references. */
const registerBody = z
  .object({
    image_path: pathField.optional(),
    h5ad_path: pathField.optional(),
    preview_path: pathField.optional(),
    storage_backend: z.string().min(1).max(64).optional(),
    user_subdir: z.string().min(1).max(255).optional(),
    image: pathField.optional(),
    h5ad: pathField.optional(),
    preview: pathField.optional(),
    dataset_id: z.string().min(1).max(200).optional(),
    copy_files: z.boolean().default(false),
    marker_cols: z.array(z.string().min(1).max(255)).max(1000).default([]),
    overwrite: z.boolean().default(false),
  })
  .strict()
  .superRefine((b, ctx) => {
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
  });

const idParam = z.object({ id: z.string().min(1).max(200) });

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
        200: { description: 'Already registered with the same files', ...json(anyObject) },
        201: { description: 'Registered', ...json(anyObject) },
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
          cursor: z.string().max(200).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
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
      request: { params: idParam.extend({ role: z.enum(['image', 'h5ad', 'preview']) }) },
      responses: {
        200: { description: 'The file' },
        206: { description: 'A byte range' },
        302: { description: 'Object-store files: a presigned URL' },
      },
    }),
    async (c) => {
      const { id, role } = c.req.valid('param');
      const file = await datasetService.file(services, c.get('principal'), id, role as Role);
      if (file.redirect) return c.redirect(file.redirect, 302);
      const range = c.req.header('range');
      const headers: Record<string, string> = {
        'accept-ranges': 'bytes',
        'content-type': 'application/octet-stream',
      };
      if (range) {
        const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
        let start = m?.[1] ? Number(m[1]) : Number.NaN;
        let end = m?.[2] ? Number(m[2]) : file.size - 1;
        if (m && !m[1] && m[2])
          [start, end] = [Math.max(0, file.size - Number(m[2])), file.size - 1];
        if (!m || Number.isNaN(start) || start > end || start >= file.size) {
          throw new AppError(
            416,
            'RANGE_NOT_SATISFIABLE',
            `Range '${range}' is outside 0-${file.size - 1}`,
          );
        }
        end = Math.min(end, file.size - 1);
        const body = Readable.toWeb(createReadStream(file.path, { start, end })) as ReadableStream;
        return c.body(body, 206, {
          ...headers,
          'content-range': `bytes ${start}-${end}/${file.size}`,
          'content-length': String(end - start + 1),
        });
      }
      return c.body(Readable.toWeb(createReadStream(file.path)) as ReadableStream, 200, {
        ...headers,
        'content-length': String(file.size),
      });
    },
  );
  return r;
}
