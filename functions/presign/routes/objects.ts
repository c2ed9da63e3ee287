// Downloads and objects: a presigned GET (the core) and, with the Node service, the caller's listing.
import { ApiRouter, createRoute } from '../../../shared/http/api-router.ts';
import * as z from '../../../shared/validation/zod.ts';
import { type CoreEnv, type PresignCoreDeps, signDownload } from '../core.ts';
import type { PresignService } from '../presign-service.ts';
import { accessFailures, answers, failures, instant, pageLimit, text1024 } from './responses.ts';

/** `GET /api/v1/downloads` and `GET /api/v1/objects`. */
export function objectRoutes(core: PresignCoreDeps, uploads?: PresignService) {
  const r = new ApiRouter<CoreEnv>();
  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/downloads',
      summary: 'Presigned GET URL',
      request: {
        query: z.object({
          key: text1024,
          filename: z.optional(z.string().check(z.minLength(1), z.maxLength(255))),
        }),
      },
      responses: {
        ...answers(
          'URL and its real expiry',
          z.object({ url: z.string(), key: z.string(), expiresAt: instant }),
        ),
        ...failures(...accessFailures),
      },
    }),
    (c) => {
      const { key, filename } = c.req.valid('query');
      const d = signDownload(core, c.get('scope'), key, filename);
      return c.json({ url: d.url, key: d.key, expiresAt: d.expiresAt }, 200);
    },
  );
  if (!uploads) return r;

  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/objects',
      summary: "The caller's objects, paged",
      request: {
        query: z.object({
          prefix: z.optional(z.string().check(z.maxLength(1024))),
          cursor: z.optional(z.string().check(z.maxLength(2048))),
          limit: pageLimit,
        }),
      },
      responses: {
        ...answers(
          'Objects',
          z.object({
            prefix: z.string(),
            objects: z.array(
              z.object({
                key: z.string(),
                size: z.number(),
                etag: z.string(),
                lastModified: z.optional(instant),
              }),
            ),
            nextCursor: z
              .nullable(z.string())
              .check(z.meta({ description: 'Pass as `cursor` for the next page' })),
          }),
        ),
        ...failures(...accessFailures),
      },
    }),
    async (c) => {
      const { prefix, cursor, limit } = c.req.valid('query');
      return c.json(await uploads.listObjects(c.get('scope'), prefix, cursor, limit), 200);
    },
  );
  return r;
}
