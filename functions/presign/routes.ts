import { ALL_OPS, mintBucketToken } from '../../shared/auth/bucket-token.ts';
import { ERRORS } from '../../shared/errors.ts';
import { answer, createRoute, json, ok } from '../../shared/http/api-router.ts';
import { type AppRouter, createRouter, requireUser } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import { splitRelative } from '../../shared/storage/relative-path.ts';
import * as z from '../../shared/validation/zod.ts';
import { requireAccess } from './access.ts';
import { authService } from './auth-service.ts';
import { MAX_OBJECT, presignService } from './presign-service.ts';

const uploadBody = z.strictObject({
  name: z.string().check(z.minLength(1), z.maxLength(1024), z.meta({ example: 'run1/data.h5' })),
  size: z.number().check(z.int(), z.minimum(0), z.maximum(MAX_OBJECT)),
  contentType: z.optional(z.string().check(z.maxLength(255))),
  sha256: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}$/i, 'hex SHA-256'))),
  enforceSize: z
    .optional(z.boolean())
    .check(z.meta({ description: 'Presigned POST with content-length-range' })),
});
// Shared where routes take the same field: every schema built here is cold-start time.
const text1024 = z.string().check(z.minLength(1), z.maxLength(1024));
const partKey = z.string().check(z.minLength(1));
const etag = z.string().check(z.minLength(1), z.maxLength(200));
const pageLimit = z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(1000)), 1000);
const refreshBody = z.strictObject({
  refreshToken: z.string().check(z.minLength(10), z.maxLength(200)),
});
const keyQuery = z.object({ key: text1024 });
const uploadIdParam = z.object({ uploadId: text1024 });
const partNumber = z.number().check(z.int(), z.minimum(1), z.maximum(10_000));
const username = z
  .string()
  .check(z.regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case letters, digits, . _ -'));

const newPassword = z.string().check(z.minLength(8), z.maxLength(1024));

/** Presign function: login, bucket tokens, uploads (single and multipart), downloads, listing. */
export function presignRoutes(services: Services): AppRouter {
  const r = createRouter();

  // --- local accounts (labs without an identity provider) ---
  r.openapi(
    createRoute({
      method: 'post',
      path: '/auth/login',
      summary: 'Log in with a local account',
      request: {
        body: json(z.strictObject({ username, password: text1024 })),
      },
      responses: ok('Access and refresh tokens'),
    }),
    async (c) => {
      const { username: u, password } = c.req.valid('json');
      return c.json(await authService.login(services, u, password), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: '/auth/refresh',
      summary: 'Trade a refresh token for a new pair (rotation)',
      request: { body: json(refreshBody) },
      responses: ok('New tokens'),
    }),
    async (c) => c.json(await authService.refresh(services, c.req.valid('json').refreshToken), 200),
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: '/auth/logout',
      summary: 'Revoke a refresh token',
      request: { body: json(refreshBody) },
      responses: ok('Revoked'),
    }),
    async (c) => {
      await authService.logout(services, c.req.valid('json').refreshToken);
      return c.json({ status: 'revoked' }, 200);
    },
  );
  r.use('/auth/users', requireUser({ role: 'admin' }));
  r.openapi(
    createRoute({
      method: 'post',
      path: '/auth/users',
      summary: 'Create a local user (admins only)',
      request: {
        body: json(
          z.strictObject({
            username,
            password: newPassword,
            roles: z._default(z.array(z.enum(['admin', 'worker'])), []),
          }),
        ),
      },
      responses: { 201: answer('Created') },
    }),
    async (c) => c.json(await authService.createUser(services, c.req.valid('json')), 201),
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/auth/users',
      summary: 'List local users (admins only)',
      responses: ok('Users, without password hashes'),
    }),
    async (c) => c.json({ users: await authService.listUsers(services) }, 200),
  );
  r.use('/auth/users/*', requireUser({ role: 'admin' }));
  r.openapi(
    createRoute({
      method: 'put',
      path: '/auth/users/{username}/password',
      summary: "Set a local user's password and revoke their refresh tokens (admins only)",
      request: {
        params: z.object({ username }),
        body: json(z.strictObject({ password: newPassword })),
      },
      responses: ok('Changed'),
    }),
    async (c) =>
      c.json(
        await authService.setPassword(
          services,
          c.req.valid('param').username,
          c.req.valid('json').password,
        ),
        200,
      ),
  );

  // --- everything below accepts a user JWT or a bucket token (`/x/*` also matches `/x`) ---
  for (const path of [
    '/api/v1/bucket-token',
    '/api/v1/uploads/*',
    '/api/v1/downloads',
    '/api/v1/objects',
    '/storage/*',
  ]) {
    r.use(path, requireAccess());
  }

  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/bucket-token',
      summary: 'A short-lived token scoped to one bucket, one key prefix and some operations',
      request: {
        body: json(
          z.strictObject({
            prefix: z
              .optional(z.string().check(z.maxLength(1024)))
              .check(z.meta({ description: 'Below your folder (admins: any)' })),
            ops: z._default(z.array(z.enum(['read', 'write', 'list'])).check(z.minLength(1)), [
              ...ALL_OPS,
            ]),
            ttlMin: z.optional(z.number().check(z.int(), z.minimum(1))),
          }),
        ),
      },
      responses: ok('The token and its scope'),
    }),
    async (c) => {
      const scope = c.get('scope');
      if (scope.via !== 'user') throw ERRORS.forbidden('Bucket tokens cannot mint bucket tokens');
      const body = c.req.valid('json');
      const { auth, s3 } = services.config;
      let prefix = scope.home;
      if (body.prefix) {
        const rel = body.prefix.replace(/\/$/, '');
        splitRelative(rel, 'prefix');
        prefix = scope.admin ? `${s3.prefix}${rel}/` : `${scope.home}${rel}/`;
      }
      if (!prefix.startsWith(scope.prefix))
        throw ERRORS.forbidden(`prefix '${prefix}' is outside your prefix`);
      const ttlMin = Math.min(body.ttlMin ?? auth.bucketTokenTtlMin, auth.bucketTokenTtlMin);
      if (!auth.bucketTokenSecret) throw ERRORS.unavailable('Bucket tokens are not configured');
      const { token, expiresAt } = await mintBucketToken(
        auth.bucketTokenSecret,
        { sub: scope.sub, bucket: scope.bucket, prefix, ops: body.ops },
        ttlMin * 60,
      );
      return c.json(
        { token, bucket: scope.bucket, prefix, ops: body.ops, expiresAt: expiresAt.toISOString() },
        200,
      );
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/uploads',
      summary: 'Presigned PUT (or POST) up to the single-PUT limit; a multipart plan above it',
      request: { body: json(uploadBody) },
      responses: ok('Upload instructions'),
    }),
    async (c) =>
      c.json(await presignService.createUpload(services, c.get('scope'), c.req.valid('json')), 200),
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/uploads/{uploadId}/parts',
      summary: 'Presigned UploadPart URLs for a batch of parts',
      request: {
        params: uploadIdParam,
        body: json(
          z.strictObject({
            key: partKey,
            partNumbers: z.array(partNumber).check(z.minLength(1), z.maxLength(1000)),
          }),
        ),
      },
      responses: ok('Part URLs'),
    }),
    async (c) => {
      const { key, partNumbers } = c.req.valid('json');
      return c.json(
        await presignService.presignParts(
          services,
          c.get('scope'),
          c.req.valid('param').uploadId,
          key,
          partNumbers,
        ),
        200,
      );
    },
  );
  r.openapi(
    createRoute({
      method: 'put',
      path: '/api/v1/uploads/{uploadId}/parts/{partNumber}',
      summary: 'Record an uploaded part and its ETag (resume does not depend on ListParts)',
      request: {
        params: z.extend(uploadIdParam, {
          partNumber: z.coerce.number().check(z.int(), z.minimum(1), z.maximum(10_000)),
        }),
        body: json(
          z.strictObject({
            key: partKey,
            etag,
            size: z.optional(z.number().check(z.int(), z.minimum(0))),
          }),
        ),
      },
      responses: ok('Recorded'),
    }),
    async (c) => {
      const { uploadId, partNumber: n } = c.req.valid('param');
      const b = c.req.valid('json');
      await presignService.reportPart(services, c.get('scope'), uploadId, b.key, {
        partNumber: n,
        etag: b.etag,
        size: b.size,
      });
      return c.json({ uploadId, partNumber: n, status: 'recorded' }, 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/uploads/{uploadId}',
      summary: 'Parts uploaded so far (paged)',
      request: {
        params: uploadIdParam,
        query: z.extend(keyQuery, {
          cursor: z._default(z.coerce.number().check(z.int(), z.minimum(0)), 0),
          limit: pageLimit,
        }),
      },
      responses: ok('Parts'),
    }),
    async (c) => {
      const q = c.req.valid('query');
      return c.json(
        await presignService.listParts(
          services,
          c.get('scope'),
          c.req.valid('param').uploadId,
          q.key,
          q.cursor,
          q.limit,
        ),
        200,
      );
    },
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/uploads/{uploadId}/complete',
      summary: 'Complete a multipart upload',
      request: {
        params: uploadIdParam,
        body: json(
          z.strictObject({
            key: partKey,
            parts: z
              .array(z.strictObject({ partNumber, etag }))
              .check(z.minLength(1), z.maxLength(10_000)),
          }),
        ),
      },
      responses: ok('The object'),
    }),
    async (c) => {
      const b = c.req.valid('json');
      return c.json(
        await presignService.complete(
          services,
          c.get('scope'),
          c.req.valid('param').uploadId,
          b.key,
          b.parts,
        ),
        200,
      );
    },
  );
  r.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/uploads/{uploadId}',
      summary: 'Abort a multipart upload',
      request: { params: uploadIdParam, query: keyQuery },
      responses: ok('Aborted'),
    }),
    async (c) =>
      c.json(
        await presignService.abort(
          services,
          c.get('scope'),
          c.req.valid('param').uploadId,
          c.req.valid('query').key,
        ),
        200,
      ),
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/downloads',
      summary: 'Presigned GET URL',
      request: {
        query: z.extend(keyQuery, {
          filename: z.optional(z.string().check(z.minLength(1), z.maxLength(255))),
        }),
      },
      responses: ok('URL and its real expiry'),
    }),
    async (c) => {
      const q = c.req.valid('query');
      const d = presignService.download(services, c.get('scope'), q.key, q.filename);
      return c.json({ url: d.url, key: d.key, expiresAt: d.expiresAt }, 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/objects',
      summary: "The caller's objects, paged",
      request: {
        query: z.object({
          prefix: z.optional(z.string().check(z.maxLength(1024))),
          cursor: z.optional(z.string().check(z.maxLength(2048))),
          limit: pageLimit,
        }),
      },
      responses: ok('Objects'),
    }),
    async (c) => {
      const q = c.req.valid('query');
      return c.json(
        await presignService.listObjects(services, c.get('scope'), q.prefix, q.cursor, q.limit),
        200,
      );
    },
  );

  // --- compatibility routes of the original service (same behaviour, real expiry reported) ---
  const objectName = z.object({ object_name: text1024 });
  r.openapi(
    createRoute({
      method: 'post',
      path: '/storage/presign/upload',
      summary: 'Compatibility: presigned PUT for object_name in your folder',
      request: { query: objectName },
      responses: ok('URL'),
    }),
    async (c) => {
      const name = c.req.valid('query').object_name;
      const up = await presignService.createUpload(services, c.get('scope'), { name, size: 0 });
      if (up.method !== 'PUT') throw ERRORS.badRequest('unexpected upload plan');
      return c.json(
        {
          url: up.url,
          object_name: up.key,
          expires_in: services.config.presign.ttlS,
          expiresAt: up.expiresAt,
        },
        200,
      );
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/storage/presign/download',
      summary: 'Compatibility: presigned GET for object_name in your folder',
      request: { query: objectName },
      responses: ok('URL'),
    }),
    async (c) => {
      const scope = c.get('scope');
      const name = c.req.valid('query').object_name;
      const key = name.startsWith(scope.prefix)
        ? name
        : `${scope.home}${splitRelative(name, 'object_name').join('/')}`;
      const d = presignService.download(services, scope, key);
      return c.json(
        { url: d.url, object_name: d.key, expires_in: d.expiresIn, expiresAt: d.expiresAt },
        200,
      );
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/storage/list',
      summary: 'Compatibility: your objects (first 1,000)',
      responses: ok('Objects'),
    }),
    async (c) => {
      const page = await presignService.listObjects(
        services,
        c.get('scope'),
        undefined,
        undefined,
        1000,
      );
      return c.json(
        {
          objects: page.objects.map((o) => ({
            object_name: o.key,
            size: o.size,
            etag: o.etag,
            last_modified: o.lastModified,
          })),
        },
        200,
      );
    },
  );
  return r;
}
