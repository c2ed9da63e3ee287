import pg from 'pg';
import { createJobsApp } from '../../functions/jobs/app.ts';
import { type NodeServer, serveNode } from '../../shared/http/serve-node.ts';
import { createTestStack, type TestStack } from './stack.ts';

/** The jobs function served over HTTP on a test stack, with tokens and a direct database client. */
export interface JobsApi {
  stack: TestStack;
  api: string;
  db: pg.Client;
  amick: string;
  admin: string;
  workerToken: string;
  /** One JSON request (no Authorization header when `token` is undefined). */
  call(
    method: string,
    url: string,
    token: string | undefined,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, any> }>;
  /** A job as an admin sees it. */
  job(id: number): Promise<Record<string, any>>;
  /** Announces a worker (as `worker-bot`) with these backends and, when given, kinds. */
  announce(id: string, backends: string[], kinds?: string[]): Promise<{ status: number }>;
  close(): Promise<void>;
}

export async function startJobsApi(env: Record<string, string>): Promise<JobsApi> {
  const stack = await createTestStack(env);
  const server: NodeServer = await serveNode(createJobsApp(stack.services), {
    port: 0,
    hostname: '127.0.0.1',
  });
  const api = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  const admin = await stack.token('root', ['admin']);
  const workerToken = await stack.token('worker-bot', ['worker']);
  const self: JobsApi = {
    stack,
    api,
    db,
    amick: await stack.token('amick'),
    admin,
    workerToken,
    async call(method, url, token, body) {
      const res = await fetch(`${api}${url}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          'content-type': 'application/json',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    },
    job: async (id) => (await self.call('GET', `/api/v1/jobs/${id}`, admin)).body,
    announce: (id, backends, kinds) =>
      self.call('POST', '/api/v1/workers/announce', workerToken, {
        workerId: id,
        capabilities: { storageBackends: backends, ...(kinds ? { kinds } : {}) },
      }),
    async close() {
      await db.end();
      await server.close(1000);
      await stack.close();
    },
  };
  return self;
}
