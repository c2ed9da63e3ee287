// A test-only server: the shared Node runtime (serveNode + drainOnSignals) with one slow route, to prove
// that SIGTERM lets an in-flight request finish, and one that never answers, with a shutdown that never
// finishes when STUCK_CLEANUP=1, to prove the drain's deadline (DRAIN_MS) holds.
import { Hono } from 'hono';
import { drainOnSignals, serveNode } from '../../shared/http/serve-node.ts';

const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.get('/slow', async (c) => {
  await new Promise((r) => setTimeout(r, 1500));
  return c.json({ finished: true });
});
// A request stuck on a dependency that never answers (a hung ingest).
app.get('/stuck', () => new Promise<Response>(() => {}));
const srv = await serveNode(app, { port: 0, hostname: '127.0.0.1' });
drainOnSignals(
  srv,
  async () => {
    process.stdout.write('cleanup\n');
    // A pool that waits for a client the stuck request holds (its socket keeps the process alive).
    if (process.env.STUCK_CLEANUP === '1') await new Promise(() => setInterval(() => {}, 1000));
  },
  undefined,
  process.env.DRAIN_MS ? Number(process.env.DRAIN_MS) : undefined,
);
process.stdout.write(
  `${JSON.stringify({ port: (srv.server.address() as { port: number }).port })}\n`,
);
