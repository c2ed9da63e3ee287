import { answer, createRoute, json, ok } from '../../shared/http/api-router.ts';
import { type AppRouter, createRouter, requireUser } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import * as z from '../../shared/validation/zod.ts';
import { workerCredentials } from './worker-credentials.ts';

const base = '/api/v1/worker-credentials';
const credentialId = z.object({ id: z.string().check(z.regex(/^[a-f0-9]{16}$/, '16 hex digits')) });

/** Admins mint, list and revoke worker credentials; a worker exchanges its credential for a token. */
export function workerCredentialRoutes(services: Services): AppRouter {
  const r = createRouter();
  const admin = requireUser({ role: 'admin' });
  // Everything here is for admins, except the exchange, which is authenticated by the credential.
  r.use(`${base}/*`, (c, next) =>
    c.req.method === 'POST' && c.req.path === `${base}/token` ? next() : admin(c, next),
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: base,
      summary: 'Admin: mint a long-lived, revocable worker credential (shown once)',
      request: {
        body: json(
          z.strictObject({
            name: z.string().check(z.regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ -')),
            ttl_days: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(3650)), 365),
            note: z.optional(z.string().check(z.maxLength(200))),
          }),
        ),
      },
      responses: { 201: answer('The credential') },
    }),
    async (c) =>
      c.json(await workerCredentials.mint(services, c.get('principal'), c.req.valid('json')), 201),
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: base,
      summary: 'Admin: worker credentials',
      responses: ok('List'),
    }),
    async (c) => c.json({ credentials: await workerCredentials.list(services) }, 200),
  );
  r.openapi(
    createRoute({
      method: 'delete',
      path: `${base}/{id}`,
      summary: 'Admin: revoke a worker credential (its workers stop at their next token renewal)',
      request: { params: credentialId },
      responses: ok('Revoked'),
    }),
    async (c) => c.json(await workerCredentials.revoke(services, c.req.valid('param').id), 200),
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: `${base}/token`,
      summary: 'Worker: exchange a worker credential for a short access token (role worker)',
      request: {
        body: json(
          z.strictObject({ credential: z.string().check(z.minLength(1), z.maxLength(200)) }),
        ),
      },
      responses: ok('An access token'),
    }),
    async (c) =>
      c.json(await workerCredentials.exchange(services, c.req.valid('json').credential), 200),
  );
  return r;
}
