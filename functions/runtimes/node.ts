// Node entry for Knative, OpenFaaS (of-watchdog HTTP mode) and plain containers. SLUICE_FUNCTION picks the function.
import { getConfig } from '../../shared/config/load.ts';
import { drainOnSignals, serveNode } from '../../shared/http/serve-node.ts';
import { createServices } from '../../shared/services.ts';
import { createApp } from '../registry.ts';

const config = getConfig();
const services = createServices(config);
const srv = await serveNode(createApp(config.function, services), {
  port: config.port,
  log: services.log,
});
services.log.info({ fn: config.function, port: config.port }, 'listening');
drainOnSignals(srv, () => services.close(), services.log);
