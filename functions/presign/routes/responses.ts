// What the presign routes answer, as schemas for /openapi.json: the error body every failure shares
// and the shapes several groups return.
import { json } from '../../../shared/http/api-router.ts';
import * as z from '../../../shared/validation/zod.ts';

/** The one error body (see `AppError.toBody`); the Node shell adds the request id. */
export const errorBody = z.object({
  statusCode: z.number(),
  code: z.string().check(z.meta({ example: 'VALIDATION' })),
  error: z.string(),
  message: z.string(),
  details: z
    .optional(z.record(z.string(), z.unknown()))
    .check(z.meta({ description: 'e.g. `reason` of a 401, `fields` of a 400' })),
  requestId: z.optional(z.string()),
});

const why: Record<number, string> = {
  400: 'Invalid input; every bad field is named',
  401: 'Missing or invalid token (`details.reason` says why)',
  403: "Outside the caller's folder, scope or role",
  404: 'No such upload or user',
  409: 'Conflicts with the current state',
  413: 'Request body too large',
  415: 'Body is not JSON',
  503: 'A dependency is unavailable or not configured',
};

/** The success answer of a route: `status` (200 by default) with `schema`. */
export const answers = (description: string, schema: z.ZodMiniType, status = 200) => ({
  [status]: { description, ...json(schema) },
});

/** Error answers with the shared body, for the listed statuses. */
export const failures = (...statuses: (keyof typeof why & number)[]) =>
  Object.fromEntries(
    statuses.map((s) => [s, { description: why[s] as string, ...json(errorBody) }]),
  );

/** The failures of every route behind the presign token check. */
export const accessFailures = [400, 401, 403] as const;

/** A key as the routes take it. */
export const text1024 = z.string().check(z.minLength(1), z.maxLength(1024));
/** ISO 8601 instant. */
export const instant = z.string().check(z.meta({ format: 'date-time' }));
/** Rows per page of the listings. */
export const pageLimit = z._default(
  z.coerce.number().check(z.int(), z.minimum(1), z.maximum(1000)),
  1000,
);
