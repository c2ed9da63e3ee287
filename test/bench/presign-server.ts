// Serves either the presign function or a bare Hono JSON route, for the presign benchmark.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createPresignApp } from '../../functions/presign/app.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { silentLogger } from '../../shared/log/logger.ts';
import { createServices } from '../../shared/services.ts';

const which = process.argv[2];
let fetchHandler: (req: Request) => Response | Promise<Response>;
if (which === 'bare') {
  const bare = new Hono();
  bare.post('/api/v1/uploads', async (c) => c.json({ ok: true, received: await c.req.json() }));
  fetchHandler = bare.fetch;
} else {
  const services = createServices(parseConfig(process.env), { log: silentLogger });
  fetchHandler = createPresignApp(services).fetch;
}
serve({ fetch: fetchHandler, port: 0, hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`${JSON.stringify({ port: info.port })}\n`);
});
process.on('SIGINT', () => process.exit(0));
