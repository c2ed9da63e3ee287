import { getConfig } from '../../shared/config/load.ts';
import type { AppRouter } from '../../shared/http/app-kit.ts';
import { drainOnSignals, type NodeServer, serveNode } from '../../shared/http/serve-node.ts';
import { createServices, type Services } from '../../shared/services.ts';

/**
 * Starts one function on Node's HTTP server (Knative, OpenFaaS of-watchdog in HTTP mode, containers):
 * listens on PORT and, on SIGTERM, stops accepting connections, lets in-flight requests finish, then exits.
 * Resolves with the server once it listens.
 */
export async function startNode(
  name: string,
  createApp: (services: Services) => AppRouter,
): Promise<NodeServer> {
  const config = getConfig();
  const services = createServices(config);
  const srv = await serveNode(createApp(services), { port: config.port, log: services.log });
  services.log.info({ fn: name, port: config.port }, 'listening');
  drainOnSignals(srv, () => services.close(), services.log, config.drainTimeoutMs);
  return srv;
}
