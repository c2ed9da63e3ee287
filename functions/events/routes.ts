import { homePrefix } from '../../shared/auth/home.ts';
import { isAdmin, type Principal } from '../../shared/auth/jwt.ts';
import { requireStaticToken } from '../../shared/auth/static-token.ts';
import { ERRORS } from '../../shared/errors.ts';
import { createRoute } from '../../shared/http/api-router.ts';
import { type AppRouter, createRouter, requireUser } from '../../shared/http/app-kit.ts';
import { jobSummariesRepository } from '../../shared/ingest/job-summaries.ts';
import { type IngestJob, jobsRepository } from '../../shared/ingest/jobs-repository.ts';
import type { Services } from '../../shared/services.ts';
import * as z from '../../shared/validation/zod.ts';
import { createIngestGate, deliverEvents } from './event-service.ts';

const jobSchema = z.looseObject({});

/**
 * The bucket-notification webhook (`POST /minio-event`, `HEAD` for MinIO's probe) and the ingest
 * records (`GET /api/v1/ingests`).
 */
export function eventsRoutes(services: Services): AppRouter {
  const router = createRouter();
  const gate = createIngestGate(services.config.events.maxConcurrent);
  const webhookAuth = requireStaticToken(() => services.config.events.webhookToken, {
    name: 'SLUICE_WEBHOOK_TOKEN',
  });

  // MinIO probes the target with HEAD before sending; Hono answers HEAD through the GET route.
  router.get('/minio-event', (c) => c.body(null, 200));
  router.documented(
    createRoute({
      method: 'post',
      path: '/minio-event',
      summary: 'Bucket notification webhook (MinIO, S3, EventBridge, CloudEvents)',
      description:
        'Bearer SLUICE_WEBHOOK_TOKEN. 200 with per-object results (done, duplicate, in_progress, failed, ignored); 503 with Retry-After when the database or object store is unreachable, an ingest ran past SLUICE_INGEST_TIMEOUT_S, or more than SLUICE_MAX_EVENTS_PER_DELIVERY records needed work (redeliver); 429 above SLUICE_MAX_CONCURRENT_INGESTS.',
      request: {
        body: { content: { 'application/json': { schema: z.looseObject({}) } } },
      },
      responses: {
        200: { description: 'Processed' },
        202: { description: 'Another delivery is processing it' },
      },
    }),
    webhookAuth,
    async (c) => {
      const headers = Object.fromEntries(
        [...c.req.raw.headers.entries()].map(([k, v]) => [k.toLowerCase(), v]),
      );
      const answer = await deliverEvents(services, gate, headers, await c.req.text());
      return c.json(answer, answer.status === 'in_progress' ? 202 : 200);
    },
  );

  // `/x/*` also matches `/x`.
  router.use('/api/v1/ingests/*', requireUser());

  /** Users see jobs under their own folder; admins see all. */
  const scope = (p: Principal) =>
    isAdmin(p) ? undefined : homePrefix(services.config.s3.prefix, p.sub);

  router.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/ingests',
      summary: 'Ingest jobs, newest first (own folder; admins all)',
      request: {
        query: z.object({
          key: z.optional(z.string()),
          status: z.optional(z.enum(['queued', 'running', 'done', 'failed', 'source_deleted'])),
          cursor: z.optional(z.coerce.number().check(z.int(), z.positive())),
          limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(500)), 50),
        }),
      },
      responses: {
        200: {
          description: 'A page of jobs; pass nextCursor as cursor for the next page',
          content: {
            'application/json': {
              schema: z.object({ jobs: z.array(jobSchema), nextCursor: z.nullable(z.number()) }),
            },
          },
        },
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const jobs = await jobsRepository(services.db).list({
        bucket: services.config.s3.bucket,
        keyPrefix: scope(c.get('principal')),
        key: q.key,
        status: q.status,
        beforeId: q.cursor,
        limit: q.limit,
      });
      const last = jobs.at(-1);
      return c.json({ jobs, nextCursor: jobs.length === q.limit && last ? last.id : null }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/ingests/{id}',
      summary:
        'One ingest job with its tables, rows, timings and error, and for Slurm profiles its energy summaries',
      request: { params: z.object({ id: z.coerce.number().check(z.int(), z.positive()) }) },
      responses: {
        200: { description: 'The job', content: { 'application/json': { schema: jobSchema } } },
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const job: IngestJob | undefined = await jobsRepository(services.db).get(id);
      const prefix = scope(c.get('principal'));
      if (!job || (prefix !== undefined && !job.key.startsWith(prefix)))
        throw ERRORS.notFound('ingest job', String(id));
      const summaries = await jobSummariesRepository(services.db).forJob(id);
      return c.json({ ...job, summaries }, 200);
    },
  );
  return router;
}
