import { requireStaticToken } from '../../shared/auth/static-token.ts';
import { ERRORS, issueFields } from '../../shared/errors.ts';
import { createRoute } from '../../shared/http/api-router.ts';
import { type AppRouter, createRouter } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import * as z from '../../shared/validation/zod.ts';
import { createIngestPort } from './ingest-port.ts';
import { rescanRepository } from './rescan-repository.ts';
import { runRescan } from './rescan-service.ts';

/** Body fields, all optional. Schedulers may wrap them in a CloudEvent's `data`. */
export const rescanBody = z.strictObject({
  prefix: z.optional(z.string().check(z.maxLength(1024))),
  dryRun: z.optional(z.boolean()),
  maxSeconds: z.optional(z.number().check(z.positive(), z.maximum(86_400))),
  concurrency: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(64))),
  shards: z.optional(z.number().check(z.int(), z.minimum(0), z.maximum(64))),
});

/**
 * Accepts an empty body (OpenFaaS cron-connector, CronJob curl), plain JSON options, a structured
 * CloudEvent (`application/cloudevents+json`, options in `data`) or a binary-mode CloudEvent (`ce-*`
 * headers, options as the body), as Knative's PingSource sends.
 */
export async function parseRescanRequest(
  req: Request,
): Promise<{ options: z.infer<typeof rescanBody>; trigger: string }> {
  const text = await req.text();
  const ceType = req.headers.get('ce-type');
  let trigger = ceType ? `cloudevent:${ceType}` : 'http';
  if (text.trim() === '') return { options: {}, trigger };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw ERRORS.badRequest('Request body is not valid JSON');
  }
  if (raw && typeof raw === 'object' && 'specversion' in raw) {
    const ce = raw as { type?: string; data?: unknown };
    trigger = `cloudevent:${ce.type ?? 'unknown'}`;
    raw = ce.data ?? {};
  }
  const parsed = rescanBody.safeParse(raw);
  if (!parsed.success) {
    throw ERRORS.validation(issueFields(parsed.error.issues));
  }
  return { options: parsed.data, trigger };
}

const runSchema = z.looseObject({});

/** `POST /rescan` (scheduled, token-protected) and `GET /api/v1/rescans` (recent runs). */
export function rescanRoutes(services: Services): AppRouter {
  const router = createRouter();
  const auth = requireStaticToken(() => services.config.rescan.token, {
    name: 'SLUICE_RESCAN_TOKEN',
    allowQuery: true,
  });
  router.use('/rescan', auth);
  router.use('/api/v1/rescans', auth);

  // Documented, not validated: the body is parsed by hand (empty bodies, CloudEvents), so the JSON
  // validator must not run first.
  router.documented(
    createRoute({
      method: 'post',
      path: '/rescan',
      summary:
        'Find objects whose notifications were missed, retry failures, reclaim crashed ingests',
      description:
        'Bearer SLUICE_RESCAN_TOKEN (or ?token=). Body optional: JSON options, or a CloudEvent (structured or binary) carrying them in data.',
      request: {
        body: { required: false, content: { 'application/json': { schema: rescanBody } } },
      },
      responses: {
        200: {
          description:
            'Run finished: completed, partial (time budget; checkpoint saved) or already_running',
          content: { 'application/json': { schema: runSchema } },
        },
      },
    }),
    async (c) => {
      const { options, trigger } = await parseRescanRequest(c.req.raw);
      const { config } = services;
      const result = await runRescan(
        {
          pool: services.db,
          s3: services.s3.internal,
          bucket: config.s3.bucket,
          basePrefix: config.s3.prefix,
          suffixes: config.events.suffixes,
          ingest: createIngestPort(services),
          log: c.get('log'),
        },
        { ...options, trigger },
      );
      return c.json(result, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/rescans',
      summary: 'Recent rescan runs',
      request: {
        query: z.object({
          limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(200)), 20),
        }),
      },
      responses: {
        200: {
          description: 'Runs, newest first',
          content: { 'application/json': { schema: z.object({ runs: z.array(runSchema) }) } },
        },
      },
    }),
    async (c) => {
      const { limit } = c.req.valid('query');
      return c.json({ runs: await rescanRepository(services.db).recent(limit) }, 200);
    },
  );
  return router;
}
