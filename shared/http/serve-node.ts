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

/**
 * On SIGTERM/SIGINT: stops accepting connections, lets in-flight requests finish for up to
 * `timeoutMs` (then closes their connections), runs `cleanup` for up to `timeoutMs` more, and exits.
 * Neither step can hold the process: a request stuck on a hung dependency, or a pool waiting for a
 * client that request holds, is cut off at its deadline (worker threads end with the process).
 */
export function drainOnSignals(
  srv: NodeServer,
  cleanup: () => Promise<void>,
  log?: Logger,
  timeoutMs = 25_000,
): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log?.info({ signal, timeoutMs }, 'draining in-flight requests');
    await srv.close(timeoutMs);
    const bounded = await Promise.race([
      cleanup().then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref()),
    ]);
    if (!bounded) log?.warn({ timeoutMs }, 'shutdown did not finish in time; exiting anyway');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
