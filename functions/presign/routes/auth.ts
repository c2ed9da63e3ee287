// Local accounts (labs without an identity provider): log in, refresh, log out, manage users.
import type { MiddlewareHandler } from 'hono';
import { ApiRouter, createRoute, json } from '../../../shared/http/api-router.ts';
import * as z from '../../../shared/validation/zod.ts';
import type { AuthService } from '../auth-service.ts';
import { answers, failures, instant, text1024 } from './responses.ts';

const username = z
  .string()
  .check(z.regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case letters, digits, . _ -'));
const newPassword = z.string().check(z.minLength(8), z.maxLength(1024));
const refreshBody = z.strictObject({
  refreshToken: z.string().check(z.minLength(10), z.maxLength(200)),
});
const roles = z.array(z.enum(['admin', 'worker']));
const tokenPair = z.object({
  accessToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().check(z.meta({ description: 'Seconds the access token lives' })),
  refreshToken: z.string(),
  refreshExpiresAt: instant,
});

/** The account routes; `requireAdmin` guards user management. */
export function authRoutes(auth: AuthService, requireAdmin: MiddlewareHandler) {
  const r = new ApiRouter();
  r.openapi(
    createRoute({
      method: 'post',
      path: '/auth/login',
      summary: 'Log in with a local account',
      request: { body: json(z.strictObject({ username, password: text1024 })) },
      responses: { ...answers('Access and refresh tokens', tokenPair), ...failures(400, 401) },
    }),
    async (c) => {
      const { username: u, password } = c.req.valid('json');
      return c.json(await auth.login(u, password), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: '/auth/refresh',
      summary: 'Trade a refresh token for a new pair (rotation)',
      request: { body: json(refreshBody) },
      responses: { ...answers('New tokens', tokenPair), ...failures(400, 401) },
    }),
    async (c) => c.json(await auth.refresh(c.req.valid('json').refreshToken), 200),
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: '/auth/logout',
      summary: 'Revoke a refresh token',
      request: { body: json(refreshBody) },
      responses: {
        ...answers('Revoked', z.object({ status: z.literal('revoked') })),
        ...failures(400),
      },
    }),
    async (c) => {
      await auth.logout(c.req.valid('json').refreshToken);
      return c.json({ status: 'revoked' as const }, 200);
    },
  );
  // `/x/*` also matches `/x`.
  r.use('/auth/users/*', requireAdmin);
  r.openapi(
    createRoute({
      method: 'post',
      path: '/auth/users',
      summary: 'Create a local user (admins only)',
      request: {
        body: json(
          z.strictObject({ username, password: newPassword, roles: z._default(roles, []) }),
        ),
      },
      responses: {
        ...answers('Created', z.object({ username: z.string(), roles }), 201),
        ...failures(400, 401, 403, 409),
      },
    }),
    async (c) => c.json(await auth.createUser(c.req.valid('json')), 201),
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/auth/users',
      summary: 'List local users (admins only)',
      responses: {
        ...answers(
          'Users, without password hashes',
          z.object({
            users: z.array(
              z.object({
                username: z.string(),
                roles: z.array(z.string()),
                disabled: z.boolean(),
                createdAt: instant,
              }),
            ),
          }),
        ),
        ...failures(401, 403),
      },
    }),
    async (c) => c.json({ users: await auth.listUsers() }, 200),
  );
  r.openapi(
    createRoute({
      method: 'put',
      path: '/auth/users/{username}/password',
      summary: "Set a local user's password and revoke their refresh tokens (admins only)",
      request: {
        params: z.object({ username }),
        body: json(z.strictObject({ password: newPassword })),
      },
      responses: {
        ...answers(
          'Changed',
          z.object({ username: z.string(), status: z.literal('password changed') }),
        ),
        ...failures(400, 401, 403, 404),
      },
    }),
    async (c) =>
      c.json(
        await auth.setPassword(c.req.valid('param').username, c.req.valid('json').password),
        200,
      ),
  );
  return r;
}
