import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Logger } from '../log/logger.ts';

export interface NodeServer {
  url: string;
  server: Server;
  /** Stops accepting connections and waits for in-flight requests (up to `graceMs`). */
  close(graceMs?: number): Promise<void>;
}

/** Serves a Hono app on Node's http server (Knative/OpenFaaS/local). Resolves once listening. */
export function serveNode(
  // biome-ignore lint/suspicious/noExplicitAny: any Hono app, whatever its env type
  app: Hono<any, any, any>,
  opts: { port: number; hostname?: string; log?: Logger },
): Promise<NodeServer> {
  return new Promise((resolve) => {
    const server = serve(
      { fetch: app.fetch, port: opts.port, hostname: opts.hostname ?? '0.0.0.0' },
      (info) => {
        const url = `http://127.0.0.1:${info.port}`;
        resolve({
          url,
          server: server as Server,
          close: (graceMs = 25_000) =>
            new Promise<void>((done) => {
              const timer = setTimeout(() => {
                (server as Server).closeAllConnections?.();
                done();
              }, graceMs);
              timer.unref();
              server.close(() => {
                clearTimeout(timer);
                done();
              });
              // Idle keep-alive sockets would otherwise hold close() open until they time out.
              (server as Server).closeIdleConnections?.();
            }),
        });
      },
    ) as Server;
  });
}

/** Drains in-flight requests on SIGTERM/SIGINT, then runs `cleanup` and exits. */
export function drainOnSignals(srv: NodeServer, cleanup: () => Promise<void>, log?: Logger): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log?.info({ signal }, 'draining in-flight requests');
    await srv.close();
    await cleanup().catch(() => {});
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
