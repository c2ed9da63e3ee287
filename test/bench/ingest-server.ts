// The events function as its own process, for the ingest benchmark (so its peak RSS is its own).
import { createEventsApp } from '../../functions/events/app.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { serveNode } from '../../shared/http/serve-node.ts';
import { silentLogger } from '../../shared/log/logger.ts';
import { createServices } from '../../shared/services.ts';

const services = createServices(parseConfig(process.env), { log: silentLogger });
const srv = await serveNode(createEventsApp(services), { port: 0, hostname: '127.0.0.1' });
const address = srv.server.address() as { port: number };
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
