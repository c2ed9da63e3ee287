import { createRoute, json } from '../../shared/http/api-router.ts';
import { type AppRouter, createRouter, requireUser } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import * as z from '../../shared/validation/zod.ts';
import { jobService } from './job-service.ts';
import {
  aliasNote,
  announceAliases,
  announceBody,
  announcedSchema,
  answers,
  claimSchema,
  completeBody,
  createdJobSchema,
  createJobAliases,
  createJobBody,
  failBody,
  heartbeatBody,
  heartbeatSchema,
  jobListSchema,
  jobSchema,
  outputUrlBody,
  outputUrlSchema,
  withAliases,
  workerAliases,
  workerIdSchema,
  workerListSchema,
} from './schemas.ts';
import { workerCredentialRoutes } from './worker-credential-routes.ts';

const idParam = z.object({ id: z.coerce.number().check(z.int(), z.positive()) });

const workerRouteNote = aliasNote({ worker_id: 'workerId' });

/** Jobs API: submit and follow jobs; workers announce, claim, heartbeat and report. */
export function jobsRoutes(services: Services): AppRouter {
  const r = createRouter();
  r.use('/api/v1/jobs/*', requireUser());
  r.use('/api/v1/workers/*', requireUser({ role: 'worker' }));
  for (const action of ['heartbeat', 'complete', 'fail', 'output-url'])
    r.use(`/api/v1/jobs/:id/${action}`, requireUser({ role: 'worker' }));
  r.route('/', workerCredentialRoutes(services));

  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/jobs',
      summary: 'Submit a job on a storage backend (logical references)',
      description: aliasNote(createJobAliases),
      request: { body: json(withAliases(createJobBody, createJobAliases)) },
      responses: answers(201, 'Queued', createdJobSchema, [400, 401, 403, 404]),
    }),
    async (c) => {
      const b = c.req.valid('json');
      const job = await jobService.create(services, c.get('principal'), {
        kind: b.kind,
        storage_backend: b.storageBackend,
        user_subdir: b.userSubdir,
        input_file: b.inputFile,
        output_dir: b.outputDir,
        params: b.params,
      });
      const warning = await jobService.kindWarning(services, job.kind);
      return c.json({ jobId: job.id, status: job.status, job, ...(warning && { warning }) }, 201);
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
      responses: answers(200, 'Jobs', jobListSchema),
    }),
    async (c) => {
      const { status, limit } = c.req.valid('query');
      const jobs = await jobService.list(services, c.get('principal'), status, limit);
      return c.json({ jobs }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/jobs/{id}',
      summary: 'One job',
      request: { params: idParam },
      responses: answers(200, 'The job', jobSchema, [400, 401, 403, 404]),
    }),
    async (c) =>
      c.json(await jobService.get(services, c.get('principal'), c.req.valid('param').id), 200),
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/jobs/{id}/heartbeat',
      summary: 'Worker: extend the lease of a job it holds',
      description: workerRouteNote,
      request: { params: idParam, body: json(withAliases(heartbeatBody, workerAliases)) },
      responses: answers(200, 'The new lease', heartbeatSchema, [400, 401, 403, 404, 409]),
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { workerId } = c.req.valid('json');
      return c.json(await jobService.heartbeat(services, c.get('principal'), id, workerId), 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/jobs/{id}/complete',
      summary: 'Worker: report a job it holds done, with its output',
      description: aliasNote(workerAliases),
      request: { params: idParam, body: json(withAliases(completeBody, workerAliases)) },
      responses: answers(200, 'The finished job', jobSchema, [400, 401, 403, 404, 409]),
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { workerId, outputPath } = c.req.valid('json');
      const who = c.get('principal');
      return c.json(await jobService.complete(services, who, id, workerId, outputPath), 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/jobs/{id}/fail',
      summary: 'Worker: report a job it holds failed, with a code and the reason',
      description: workerRouteNote,
      request: { params: idParam, body: json(withAliases(failBody, workerAliases)) },
      responses: answers(200, 'The failed job', jobSchema, [400, 401, 403, 404, 409]),
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { workerId, code, error } = c.req.valid('json');
      const who = c.get('principal');
      return c.json(await jobService.fail(services, who, id, workerId, code, error), 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/jobs/{id}/output-url',
      summary: 'Worker: a presigned PUT for one output of a transfer-mode job it holds',
      description: workerRouteNote,
      request: { params: idParam, body: json(withAliases(outputUrlBody, workerAliases)) },
      responses: answers(200, 'The upload URL', outputUrlSchema, [400, 401, 403, 404, 409]),
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { workerId, name } = c.req.valid('json');
      const who = c.get('principal');
      return c.json(await jobService.outputUrl(services, who, id, workerId, name), 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/workers/announce',
      summary: 'Register or refresh a worker and the storage backends it mounts',
      description: aliasNote({
        ...announceAliases,
        'capabilities.storage_backends': 'storageBackends',
      }),
      request: { body: json(withAliases(announceBody, announceAliases)) },
      responses: answers(200, 'Registered', announcedSchema),
    }),
    async (c) => {
      const { workerId, capabilities } = c.req.valid('json');
      const { storageBackends, ...rest } = capabilities;
      const announced = await jobService.announce(services, c.get('principal'), {
        worker_id: workerId,
        capabilities: { storage_backends: storageBackends, ...rest },
      });
      return c.json(announced, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/workers',
      summary: 'Workers and their backends',
      responses: answers(200, 'Workers', workerListSchema, [401, 403]),
    }),
    async (c) => c.json({ workers: await jobService.workers(services) }, 200),
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/workers/{id}/claim',
      summary: 'Claim at most one job for this worker',
      request: { params: z.object({ id: workerIdSchema }) },
      responses: answers(200, 'A job, or job: null', claimSchema, [400, 401, 403, 404]),
    }),
    async (c) => {
      const job = await jobService.claim(services, c.get('principal'), c.req.valid('param').id);
      return c.json({ job }, 200);
    },
  );
  return r;
}
