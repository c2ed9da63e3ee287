import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import type { AccessScope } from '../auth/access-scope.ts';
import { bearer, isAdmin, type Principal } from '../auth/jwt.ts';
import { requireStaticToken } from '../auth/static-token.ts';
import { ERRORS, mapInfrastructureError, reasonPhrase } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { httpDuration, metricsRegistry } from '../metrics/registry.ts';
import { pingBucket } from '../object-store/clients.ts';
import type { Services } from '../services.ts';
import { ApiRouter, openApiDocument } from './api-router.ts';
import { DocsPage } from './docs-page.tsx';

/** Per-request values set by the shared middleware. */
export interface AppEnv {
  Variables: {
    services: Services;
    log: Logger;
    requestId: string;
    principal: Principal;
    /** Set by the presign function's auth middleware. */
    scope: AccessScope;
  };
}

export type AppRouter = ApiRouter<AppEnv>;

/**
 * A router whose `openapi()` routes validate with zod (one 400 listing every bad field) and are
 * documented in `/openapi.json`. Functions build their routes on one of these; `createFunctionApp`
 * mounts it.
 */
export function createRouter(): AppRouter {
  return new ApiRouter<AppEnv>();
}

/** Renders any thrown value as `{ statusCode, code, error, message }`; unexpected errors hide their details. */
export function renderError(err: unknown, c: Context<AppEnv>): Response {
  const log = c.get('log');
  let appErr = mapInfrastructureError(err);
  if (!appErr && err instanceof HTTPException) {
    const status = err.status;
    // Hono raises these from its own middleware: a body limit (413), a validator or parser (400).
    const message = err.message || reasonPhrase(status);
    appErr = status === 413 ? ERRORS.tooLarge(message) : ERRORS.badRequest(message);
  }
  if (!appErr && err instanceof SyntaxError)
    appErr = ERRORS.badRequest('Request body is not valid JSON');
  if (!appErr) {
    log?.error({ err }, 'unhandled error');
    appErr = ERRORS.internal();
  } else if (appErr.status >= 500) {
    log?.warn(
      { code: appErr.code, cause: (appErr.cause as Error | undefined)?.message },
      appErr.message,
    );
  }
  const body = { ...appErr.toBody(), requestId: c.get('requestId') };
  const headers: Record<string, string> = { 'x-request-id': c.get('requestId') ?? '' };
  Object.assign(headers, appErr.headers);
  if ((appErr.status === 503 || appErr.status === 429) && !headers['Retry-After'])
    headers['Retry-After'] = '5';
  return c.json(body, appErr.status, headers);
}

/**
 * Requires a valid user access token and stores the caller as `principal`. Functions that also accept
 * other credentials (bucket tokens) use their own middleware.
 */
export const requireUser =
  (opts: { role?: string } = {}): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const principal = await c.get('services').verifyToken(bearer(c.req.header('authorization')));
    if (opts.role && !principal.roles.includes(opts.role) && !isAdmin(principal)) {
      throw ERRORS.forbidden(`Role '${opts.role}' required`);
    }
    c.set('principal', principal);
    await next();
  };

/** Request headers a cross-origin caller may send (preflight answer). */
export const CORS_ALLOW_HEADERS = [
  'authorization',
  'content-type',
  'x-request-id',
  'range',
  'if-match',
  'if-none-match',
];
/** Response headers a cross-origin caller may read: validators, retry hints, ranges, ids. */
export const CORS_EXPOSE_HEADERS = [
  'ETag',
  'Retry-After',
  'Content-Range',
  'Content-Length',
  'Accept-Ranges',
  'Content-Disposition',
  'Location',
  'X-Request-Id',
];

/**
 * CORS for the origins in `SLUICE_CORS_ORIGINS` only: a listed origin gets the preflight answer,
 * `Access-Control-Allow-Origin` set to itself (never `*`), credentials and the exposed headers, on
 * error answers too. A preflight from any other origin is refused with a 403 carrying no CORS headers,
 * so the browser blocks the call; requests without `Origin` (curl, same-origin GETs) pass unchanged.
 */
export function corsAllowList(origins: readonly string[]): MiddlewareHandler<AppEnv> {
  const allowed = new Set(origins);
  const listed = cors({
    origin: (o) => (allowed.has(o) ? o : null),
    credentials: true,
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowHeaders: CORS_ALLOW_HEADERS,
    exposeHeaders: CORS_EXPOSE_HEADERS,
    maxAge: 600,
  });
  return async (c, next) => {
    const origin = c.req.header('origin');
    if (origin !== undefined && allowed.has(origin)) return listed(c, next);
    if (c.req.method === 'OPTIONS' && c.req.header('access-control-request-method') !== undefined)
      throw ERRORS.forbidden(`Origin '${origin ?? ''}' is not listed in SLUICE_CORS_ORIGINS`);
    await next();
  };
}

export interface FunctionAppOptions {
  /** Largest accepted request body; default 1 MiB. */
  maxBodyBytes?: number;
}

/**
 * The app shell every function shares: request id, logging, body limit, error rendering, `/healthz`,
 * `/readyz`, `/api/v1/storage/backends` and `/openapi.json`. Builds nothing at import time.
 */
export function createFunctionApp(
  name: string,
  services: Services,
  opts: FunctionAppOptions = {},
): AppRouter {
  const app = createRouter();
  const log = services.log.child({ fn: name });
  const logRequests = log.isLevelEnabled('info');

  app.use('*', async (c, next) => {
    const requestId = c.req.header('x-request-id') ?? randomUUID();
    c.set('services', services);
    c.set('requestId', requestId);
    // The request's child logger is made on first use: most requests never log beyond the access line.
    let child: Logger | undefined;
    c.set(
      'log',
      new Proxy(log, {
        get: (_t, prop) => {
          child ??= log.child({ reqId: requestId });
          return Reflect.get(child, prop);
        },
      }),
    );
    const started = performance.now();
    await next();
    const path = c.req.path;
    // The route pattern, not the path, keeps label cardinality bounded.
    httpDuration.observe(
      [name, c.req.method, c.req.routePath || 'unmatched', String(c.res.status)],
      (performance.now() - started) / 1000,
    );
    if (logRequests && path !== '/healthz' && path !== '/readyz') {
      const ms = Math.round(performance.now() - started);
      c.get('log').info({ method: c.req.method, path, status: c.res.status, ms }, 'request');
    }
  });
  app.use('*', corsAllowList(services.config.cors.origins));
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const tooLarge = () => ERRORS.tooLarge(`Request body exceeds ${maxBody} bytes`);
  // Hono's bodyLimit re-wraps every body stream; only chunked bodies (no Content-Length) need that.
  const streamLimit = bodyLimit({
    maxSize: maxBody,
    onError: () => {
      throw tooLarge();
    },
  });
  app.use('*', async (c, next) => {
    // GET and HEAD bodies are never read here; asking for one would make the Node adapter build a full
    // Request object (its lightweight one has none) on every probe and download.
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const length = c.req.header('content-length');
    if (length !== undefined) {
      if (Number(length) > maxBody) throw tooLarge();
      return next();
    }
    if (!c.req.raw.body) return next();
    return streamLimit(c, next);
  });
  app.onError(renderError);
  app.notFound((c) => renderError(ERRORS.noRoute(c.req.method, c.req.path), c));

  app.get('/healthz', (c) => c.json({ status: 'ok', function: name }));
  // The last failure reason per check, so a dependency that stays down is logged once, not per probe.
  const lastFailure = new Map<string, string>();
  app.get('/readyz', async (c) => {
    const checks: Record<string, { ok: boolean; error?: string; ms: number }> = {};
    const probe = async (key: string, fn: () => Promise<unknown>) => {
      const t = performance.now();
      try {
        await fn();
        checks[key] = { ok: true, ms: Math.round(performance.now() - t) };
        if (lastFailure.delete(key)) log.info({ check: key }, `readiness: ${key} is back`);
      } catch (err) {
        // The answer is public, so it carries a code (ECONNREFUSED, 28P01, NoSuchBucket), never a
        // message that could name hosts or users; the log gets the whole message.
        const e = err as Error & { code?: unknown; errors?: unknown[] };
        const inner = (e.errors?.[0] ?? e) as Error & { code?: unknown };
        const reason =
          typeof inner.code === 'string' && inner.code ? inner.code : inner.name || 'Error';
        checks[key] = { ok: false, error: reason, ms: Math.round(performance.now() - t) };
        if (lastFailure.get(key) !== reason) {
          lastFailure.set(key, reason);
          log.warn({ check: key, err: e }, `readiness: ${key} failed (${reason})`);
        }
      }
    };
    await Promise.all([
      probe('postgres', () => services.db.query('SELECT 1')),
      probe('objectStore', () => pingBucket(services.s3)),
    ]);
    const ok = Object.values(checks).every((v) => v.ok);
    return c.json({ status: ok ? 'ready' : 'not_ready', function: name, checks }, ok ? 200 : 503);
  });
  // Names for anyone (a client picks a backend before signing in); type, description and health
  // (which writes a probe file, so it is cached per backend) only for a signed-in user.
  app.get('/api/v1/storage/backends', async (c) => {
    const auth = c.req.header('authorization');
    if (auth === undefined)
      return c.json({ backends: services.storage.names().map((name) => ({ name })) });
    await services.verifyToken(bearer(auth));
    return c.json({ backends: await services.storage.list(true) });
  });
  const info = { title: `Sluice ${name}`, version: '0.1.0' };
  app.get('/openapi.json', (c) => c.json(openApiDocument(app, info)));
  app.get('/docs', (c) => {
    const doc = openApiDocument(app, info);
    return c.html(
      String(
        DocsPage({
          title: `Sluice ${name} API`,
          doc: doc as Parameters<typeof DocsPage>[0]['doc'],
        }),
      ),
    );
  });
  // Route names, counts and latencies are not for everyone: Prometheus sends SLUICE_METRICS_TOKEN.
  const scrapeToken = requireStaticToken(() => services.config.metrics.token, {
    name: 'SLUICE_METRICS_TOKEN',
  });
  app.get('/metrics', scrapeToken, async (c) => {
    const { registry, jobsByStatus, poolConnections } = await metricsRegistry();
    const pool = services.dbIfCreated;
    if (pool) {
      poolConnections.set({ state: 'total' }, pool.totalCount);
      poolConnections.set({ state: 'idle' }, pool.idleCount);
      poolConnections.set({ state: 'waiting' }, pool.waitingCount);
      const jobs = await pool
        .query<{ status: string; n: number }>(
          `SELECT status, count(*)::int AS n FROM jobs GROUP BY status`,
        )
        .catch(() => ({ rows: [] as { status: string; n: number }[] }));
      jobsByStatus.reset();
      for (const r of jobs.rows) jobsByStatus.set({ status: r.status }, r.n);
    }
    return c.body(await registry.metrics(), 200, { 'content-type': registry.contentType });
  });
  return app;
}
