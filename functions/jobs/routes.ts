import { createRoute, z } from '@hono/zod-openapi';
import { type AppRouter, createRouter, requireUser } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import { jobService } from './job-service.ts';

const json = <T extends z.ZodTypeAny>(schema: T) => ({
  content: { 'application/json': { schema } },
});
const anyObject = z.object({}).passthrough();
const ok = (description: string) => ({ 200: { description, ...json(anyObject) } });
const idParam = z.object({ id: z.coerce.number().int().positive() });
const workerId = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'letters, digits, . _ : -');
const workerBody = z.object({ worker_id: workerId }).strict();

/** Jobs API: submit and follow jobs; workers announce, claim, heartbeat and report. */
export function jobsRoutes(services: Services): AppRouter {
  const r = createRouter();
  r.use('/api/v1/jobs/*', requireUser());
  r.use('/api/v1/workers/*', requireUser({ role: 'worker' }));

  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/jobs',
      summary: 'Submit a job on a storage backend (logical references)',
      request: {
        body: json(
          z
            .object({
              kind: z.string().regex(/^[a-z0-9_-]{1,64}$/),
              storage_backend: z.string().min(1).max(64).optional(),
              user_subdir: z.string().min(1).max(255).optional(),
              input_file: z.string().min(1).max(4096),
              output_dir: z.string().min(1).max(4096),
              params: z.record(z.string(), z.unknown()).default({}),
            })
            .strict(),
        ),
      },
      responses: { 201: { description: 'Queued', ...json(anyObject) } },
    }),
    async (c) => {
      const job = await jobService.create(services, c.get('principal'), c.req.valid('json'));
      return c.json({ job_id: job.id, status: job.status, job }, 201);
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/jobs',
      summary: 'Your jobs (admins: all)',
      request: {
        query: z.object({
          status: z.enum(['queued', 'running', 'done', 'failed']).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
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
        ? workerBody.extend({ output_path: z.string().min(1).max(4096) })
        : action === 'fail'
          ? workerBody.extend({
              code: z
                .string()
                .regex(/^[A-Z_]{1,64}$/)
                .default('FAILED'),
              error: z.string().min(1).max(4000),
            })
          : action === 'output-url'
            ? workerBody.extend({ name: z.string().min(1).max(1024) })
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
          z
            .object({
              worker_id: workerId,
              capabilities: z
                .object({
                  storage_backends: z.array(z.string().min(1).max(64)).max(64),
                  gpu: z.boolean().optional(),
                  labels: z.record(z.string(), z.string()).optional(),
                })
                .strict(),
            })
            .strict(),
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
