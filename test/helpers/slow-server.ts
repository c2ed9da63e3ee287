// A test-only server: the shared Node runtime (serveNode + drainOnSignals) with one slow route, to prove
// that SIGTERM lets an in-flight request finish.
import { Hono } from 'hono';
import { drainOnSignals, serveNode } from '../../shared/http/serve-node.ts';

const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.get('/slow', async (c) => {
  await new Promise((r) => setTimeout(r, 1500));
  return c.json({ finished: true });
});
const srv = await serveNode(app, { port: 0, hostname: '127.0.0.1' });
drainOnSignals(srv, async () => {
  process.stdout.write('cleanup\n');
});
process.stdout.write(
  `${JSON.stringify({ port: (srv.server.address() as { port: number }).port })}\n`,
);
