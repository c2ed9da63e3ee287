import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Stable error codes clients can branch on. */
export type ErrorCode =
  | 'BAD_REQUEST'
  | 'VALIDATION_FAILED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'TOO_MANY_REQUESTS'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'INVALID_PATH'
  | 'PATH_ESCAPES_BASE'
  | 'BACKEND_NOT_CONFIGURED'
  | 'BACKEND_NOT_AVAILABLE'
  | 'USER_DIR_NOT_FOUND'
  | (string & {});

/** The one error type: an HTTP status, a stable code and a message safe to show to the caller. */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    /** Extra machine-readable facts (e.g. the list of bad fields); never secrets. */
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The body every Sluice error is rendered as. */
  toBody(): ErrorBody {
    return {
      statusCode: this.status,
      code: this.code,
      error: reasonPhrase(this.status),
      message: this.message,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
  details?: Record<string, unknown>;
}

const phrases: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export function reasonPhrase(status: number): string {
  return phrases[status] ?? 'Error';
}

/** Factories for the common errors, so call sites read as `ERRORS.notFound('dataset', id)`. */
/** A validator's issues (zod's shape) as the fields of a validation error; `root` names a whole-value one. */
export const issueFields = (
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  root = '(body)',
) =>
  issues.map((i) => ({
    field: i.path.map(String).join('.') || root,
    message: i.message,
  }));

export const ERRORS = {
  badRequest: (message: string, details?: Record<string, unknown>) =>
    new AppError(400, 'BAD_REQUEST', message, details),
  validation: (fields: { field: string; message: string }[]) =>
    new AppError(
      400,
      'VALIDATION_FAILED',
      fields.map((f) => `${f.field}: ${f.message}`).join('; '),
      { fields },
    ),
  unauthorized: (reason: string, message = 'Authentication required') =>
    new AppError(401, 'UNAUTHORIZED', message, { reason }),
  forbidden: (message: string) => new AppError(403, 'FORBIDDEN', message),
  notFound: (what: string, id: string) =>
    new AppError(404, 'NOT_FOUND', `${what} '${id}' not found`),
  conflict: (message: string, details?: Record<string, unknown>) =>
    new AppError(409, 'CONFLICT', message, details),
  tooLarge: (message: string) => new AppError(413, 'PAYLOAD_TOO_LARGE', message),
  unsupportedMediaType: (message: string) => new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', message),
  tooMany: (message: string) => new AppError(429, 'TOO_MANY_REQUESTS', message),
  unavailable: (message: string, cause?: unknown) =>
    new AppError(503, 'UNAVAILABLE', message, undefined, { cause }),
  invalidPath: (message: string) => new AppError(400, 'INVALID_PATH', message),
  pathEscapes: () => new AppError(400, 'PATH_ESCAPES_BASE', 'Path escapes base directory'),
  backendNotConfigured: (name: string) =>
    new AppError(404, 'BACKEND_NOT_CONFIGURED', `Backend '${name}' not configured`),
  userDirNotFound: (user: string, backend: string) =>
    new AppError(
      404,
      'USER_DIR_NOT_FOUND',
      `User directory '${user}' not found in backend '${backend}'`,
    ),
} as const;

/** Postgres SQLSTATEs that mean "try again later" rather than "your request is wrong". */
const transientPgCodes = new Set([
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '40001',
  '40P01',
  '57014',
  '55P03',
]);
const transientNodeCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);

/**
 * Maps infrastructure failures (Postgres down, object store unreachable, constraint violations) onto
 * AppErrors in one place. Returns undefined for errors that are genuinely unexpected.
 */
export function mapInfrastructureError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  const e = err as { code?: unknown; message?: unknown; name?: unknown; $metadata?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code === '23505')
    return new AppError(409, 'CONFLICT', 'Resource already exists', undefined, { cause: err });
  if (code && (transientPgCodes.has(code) || transientNodeCodes.has(code))) {
    return ERRORS.unavailable('A backing service is unavailable; retry later', err);
  }
  if (
    typeof e?.message === 'string' &&
    /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|Query read timeout/i.test(
      e.message,
    )
  ) {
    return ERRORS.unavailable('A backing service is unavailable; retry later', err);
  }
  return undefined;
}
