import { answer, createRoute, json, ok } from '../../shared/http/api-router.ts';
import { type AppRouter, createRouter, requireUser } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import * as z from '../../shared/validation/zod.ts';
import { jobService } from './job-service.ts';
import { workerCredentialRoutes } from './worker-credential-routes.ts';

const idParam = z.object({ id: z.coerce.number().check(z.int(), z.positive()) });
const workerId = z.string().check(z.regex(/^[A-Za-z0-9._:-]{1,128}$/, 'letters, digits, . _ : -'));
const workerBody = z.strictObject({ worker_id: workerId });

/** Jobs API: submit and follow jobs; workers announce, claim, heartbeat and report. */
export function jobsRoutes(services: Services): AppRouter {
  const r = createRouter();
  r.use('/api/v1/jobs/*', requireUser());
  r.use('/api/v1/workers/*', requireUser({ role: 'worker' }));
  r.route('/', workerCredentialRoutes(services));

  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/jobs',
      summary: 'Submit a job on a storage backend (logical references)',
      request: {
        body: json(
          z.strictObject({
            kind: z.string().check(z.regex(/^[a-z0-9_-]{1,64}$/)),
            storage_backend: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
            user_subdir: z.optional(z.string().check(z.minLength(1), z.maxLength(255))),
            input_file: z.string().check(z.minLength(1), z.maxLength(4096)),
            output_dir: z.string().check(z.minLength(1), z.maxLength(4096)),
            params: z._default(z.record(z.string(), z.unknown()), {}),
          }),
        ),
      },
      responses: { 201: answer('Queued') },
    }),
    async (c) => {
      const job = await jobService.create(services, c.get('principal'), c.req.valid('json'));
      const warning = await jobService.kindWarning(services, job.kind);
      return c.json(
        { job_id: job.id, status: job.status, job, ...(warning ? { warning } : {}) },
        201,
      );
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/jobs',
      summary: 'Your jobs (admins: all)',
      request: {
        query: z.object({
          status: z.optional(z.enum(['queued', 'running', 'done', 'failed'])),
          limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(500)), 100),
        }),
      },
      responses: ok('Jobs'),
    }),
    async (c) => {
      const q = c.req.valid('query');
      return c.json(
        { jobs: await jobService.list(services, c.get('principal'), q.status, q.limit) },
        200,
      );
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/jobs/{id}',
      summary: 'One job',
      request: { params: idParam },
      responses: ok('The job'),
    }),
    async (c) =>
      c.json(await jobService.get(services, c.get('principal'), c.req.valid('param').id), 200),
  );
  for (const action of ['heartbeat', 'complete', 'fail', 'output-url'] as const) {
    const body =
      action === 'complete'
        ? z.extend(workerBody, { output_path: z.string().check(z.minLength(1), z.maxLength(4096)) })
        : action === 'fail'
          ? z.extend(workerBody, {
              code: z._default(z.string().check(z.regex(/^[A-Z_]{1,64}$/)), 'FAILED'),
              error: z.string().check(z.minLength(1), z.maxLength(4000)),
            })
          : action === 'output-url'
            ? z.extend(workerBody, { name: z.string().check(z.minLength(1), z.maxLength(1024)) })
            : workerBody;
    r.use(`/api/v1/jobs/:id/${action}`, requireUser({ role: 'worker' }));
    r.openapi(
      createRoute({
        method: 'post',
        path: `/api/v1/jobs/{id}/${action}`,
        summary: `Worker: ${action} a job it holds`,
        request: { params: idParam, body: json(body) },
        responses: ok('Updated'),
      }),
      async (c) => {
        const who = c.get('principal');
        const { id } = c.req.valid('param');
        const b = c.req.valid('json') as {
          worker_id: string;
          output_path?: string;
          code?: string;
          error?: string;
          name?: string;
        };
        if (action === 'heartbeat')
          return c.json(await jobService.heartbeat(services, who, id, b.worker_id), 200);
        if (action === 'complete')
          return c.json(
            await jobService.complete(services, who, id, b.worker_id, b.output_path as string),
            200,
          );
        if (action === 'fail')
          return c.json(
            await jobService.fail(
              services,
              who,
              id,
              b.worker_id,
              b.code as string,
              b.error as string,
            ),
            200,
          );
        return c.json(
          await jobService.outputUrl(services, who, id, b.worker_id, b.name as string),
          200,
        );
      },
    );
  }
  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/workers/announce',
      summary: 'Register or refresh a worker and the storage backends it mounts',
      request: {
        body: json(
          z.strictObject({
            worker_id: workerId,
            capabilities: z.strictObject({
              storage_backends: z
                .array(z.string().check(z.minLength(1), z.maxLength(64)))
                .check(z.maxLength(64)),
              /** Kinds this worker runs; `*` is every kind. Omitted: every kind (older agents). */
              kinds: z.optional(
                z
                  .array(z.string().check(z.regex(/^(\*|[a-z0-9_-]{1,64})$/)))
                  .check(z.minLength(1), z.maxLength(64)),
              ),
              gpu: z.optional(z.boolean()),
              labels: z.optional(z.record(z.string(), z.string())),
            }),
          }),
        ),
      },
      responses: ok('Registered'),
    }),
    async (c) =>
      c.json(await jobService.announce(services, c.get('principal'), c.req.valid('json')), 200),
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/workers',
      summary: 'Workers and their backends',
      responses: ok('Workers'),
    }),
    async (c) => c.json({ workers: await jobService.workers(services) }, 200),
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/workers/{id}/claim',
      summary: 'Claim at most one job for this worker',
      request: { params: z.object({ id: workerId }) },
      responses: ok('A job, or job: null'),
    }),
    async (c) =>
      c.json(
        { job: await jobService.claim(services, c.get('principal'), c.req.valid('param').id) },
        200,
      ),
  );
  return r;
}
