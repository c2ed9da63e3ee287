// The presign route groups as a whole app for runtimes without the Node shell (Workers).
import { Hono } from 'hono';
import { AppError, ERRORS } from '../../shared/errors.ts';
import type { CoreEnv, PresignCoreDeps } from './core.ts';
import { presignRoutes } from './routes/index.ts';

/** `/healthz`, the core's routes and one error renderer with the shell's body shape (never a stack). */
export function standalonePresignApp(core: PresignCoreDeps, runtime: string): Hono<CoreEnv> {
  const app = new Hono<CoreEnv>();
  const render = (e: AppError) =>
    Response.json(e.toBody(), { status: e.status, ...(e.headers && { headers: e.headers }) });
  app.onError((err) =>
    render(
      err instanceof AppError
        ? err
        : err instanceof SyntaxError
          ? ERRORS.badRequest('Request body is not valid JSON')
          : ERRORS.internal('Internal error'),
    ),
  );
  app.notFound((c) => render(ERRORS.noRoute(c.req.method, c.req.path)));
  app.get('/healthz', (c) => c.json({ status: 'ok', function: 'presign', runtime }));
  return app.route('/', presignRoutes({ core }));
}
