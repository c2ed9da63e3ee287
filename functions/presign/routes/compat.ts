// Compatibility routes of the original service: same paths and snake_case fields as before, with the
// real expiry added (`expiresAt`).
import { ApiRouter, createRoute } from '../../../shared/http/api-router.ts';
import * as z from '../../../shared/validation/zod.ts';
import { type CoreEnv, type PresignCoreDeps, signNamedDownload, signNamedUpload } from '../core.ts';
import type { PresignService } from '../presign-service.ts';
import { accessFailures, answers, failures, instant, text1024 } from './responses.ts';

const objectName = z.object({ object_name: text1024 });
const signed = z.object({
  url: z.string(),
  object_name: z.string().check(z.meta({ description: 'The full object key' })),
  expires_in: z.number().check(z.meta({ description: 'Seconds the URL lives' })),
  expiresAt: instant,
});

/** `/storage/presign/{upload,download}` (the core) and, with the Node service, `/storage/list`. */
export function compatRoutes(core: PresignCoreDeps, uploads?: PresignService) {
  const r = new ApiRouter<CoreEnv>();
  r.openapi(
    createRoute({
      method: 'post',
      path: '/storage/presign/upload',
      summary: 'Compatibility: presigned PUT for object_name in your folder',
      request: { query: objectName },
      responses: { ...answers('URL', signed), ...failures(...accessFailures) },
    }),
    (c) => {
      const up = signNamedUpload(core, c.get('scope'), c.req.valid('query').object_name);
      return c.json(
        { url: up.url, object_name: up.key, expires_in: up.expiresIn, expiresAt: up.expiresAt },
        200,
      );
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/storage/presign/download',
      summary: 'Compatibility: presigned GET for object_name in your folder',
      request: { query: objectName },
      responses: { ...answers('URL', signed), ...failures(...accessFailures) },
    }),
    (c) => {
      const d = signNamedDownload(core, c.get('scope'), c.req.valid('query').object_name);
      return c.json(
        { url: d.url, object_name: d.key, expires_in: d.expiresIn, expiresAt: d.expiresAt },
        200,
      );
    },
  );
  if (!uploads) return r;

  r.openapi(
    createRoute({
      method: 'get',
      path: '/storage/list',
      summary: 'Compatibility: your objects (first 1,000)',
      responses: {
        ...answers(
          'Objects',
          z.object({
            objects: z.array(
              z.object({
                object_name: z.string(),
                size: z.number(),
                etag: z.string(),
                last_modified: z.optional(instant),
              }),
            ),
          }),
        ),
        ...failures(401, 403),
      },
    }),
    async (c) => {
      const page = await uploads.listObjects(c.get('scope'), undefined, undefined, 1000);
      const objects = page.objects.map((o) => ({
        object_name: o.key,
        size: o.size,
        etag: o.etag,
        last_modified: o.lastModified,
      }));
      return c.json({ objects }, 200);
    },
  );
  return r;
}
