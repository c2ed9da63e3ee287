// Bucket tokens: short-lived credentials for one bucket, one key prefix and some operations.
import { ALL_OPS } from '../../../shared/auth/bucket-token.ts';
import { ApiRouter, createRoute, json } from '../../../shared/http/api-router.ts';
import * as z from '../../../shared/validation/zod.ts';
import { type CoreEnv, mintScopedToken, type PresignCoreDeps } from '../core.ts';
import { accessFailures, answers, failures, instant } from './responses.ts';

const ops = z.array(z.enum(['read', 'write', 'list']));

/** `POST /api/v1/bucket-token`. */
export function bucketTokenRoutes(core: PresignCoreDeps) {
  const r = new ApiRouter<CoreEnv>();
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
            ops: z._default(ops.check(z.minLength(1)), [...ALL_OPS]),
            ttlMin: z.optional(z.number().check(z.int(), z.minimum(1))),
          }),
        ),
      },
      responses: {
        ...answers(
          'The token and its scope',
          z.object({
            token: z.string(),
            bucket: z.string(),
            prefix: z.string(),
            ops,
            expiresAt: instant,
          }),
        ),
        ...failures(...accessFailures, 503),
      },
    }),
    async (c) => c.json(await mintScopedToken(core, c.get('scope'), c.req.valid('json')), 200),
  );
  return r;
}
