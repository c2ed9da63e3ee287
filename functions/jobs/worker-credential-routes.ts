import { createRoute, json } from '../../shared/http/api-router.ts';
import { type AppRouter, createRouter, requireUser } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import * as z from '../../shared/validation/zod.ts';
import {
  aliasNote,
  answers,
  credentialListSchema,
  credentialSchema,
  mintedCredentialSchema,
  withAliases,
  workerTokenSchema,
} from './schemas.ts';
import { workerCredentials } from './worker-credentials.ts';

const mintAliases = { ttl_days: 'ttlDays' };

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
          withAliases(
            z.strictObject({
              name: z.string().check(z.regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ -')),
              ttlDays: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(3650)), 365),
              note: z.optional(z.string().check(z.maxLength(200))),
            }),
            mintAliases,
          ),
        ),
      },
      description: aliasNote(mintAliases),
      responses: answers(
        201,
        'The credential (its secret shown only here)',
        mintedCredentialSchema,
      ),
    }),
    async (c) => {
      const { name, ttlDays, note } = c.req.valid('json');
      const input = { name, ttl_days: ttlDays, note };
      return c.json(await workerCredentials.mint(services, c.get('principal'), input), 201);
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: base,
      summary: 'Admin: worker credentials',
      responses: answers(200, 'List', credentialListSchema, [401, 403]),
    }),
    async (c) => c.json({ credentials: await workerCredentials.list(services) }, 200),
  );
  r.openapi(
    createRoute({
      method: 'delete',
      path: `${base}/{id}`,
      summary: 'Admin: revoke a worker credential (its workers stop at their next token renewal)',
      request: { params: credentialId },
      responses: answers(200, 'Revoked', credentialSchema, [400, 401, 403, 404]),
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
      responses: answers(200, 'An access token', workerTokenSchema, [400, 401, 503]),
    }),
    async (c) =>
      c.json(await workerCredentials.exchange(services, c.req.valid('json').credential), 200),
  );
  return r;
}
