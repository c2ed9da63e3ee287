import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * Every error code a Sluice response can carry, with the HTTP status it is always sent with. This table
 * is the whole vocabulary: `ErrorCode` is derived from it, so a code that is not listed here does not
 * type-check, and each code has exactly one factory in `ERRORS`.
 */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  INVALID_PATH: 400,
  PATH_ESCAPES_BASE: 400,
  INVALID_PART: 400,
  INVALID_IMAGE: 400,
  INVALID_H5AD: 400,
  NOT_A_FILE: 400,
  UNKNOWN_MARKER_COLS: 400,
  BACKEND_NOT_AVAILABLE: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  PATH_NOT_ALLOWED: 403,
  NOT_FOUND: 404,
  BACKEND_NOT_CONFIGURED: 404,
  USER_DIR_NOT_FOUND: 404,
  INPUT_NOT_FOUND: 404,
  SOURCE_MISSING: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  SOURCE_STALE: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RANGE_NOT_SATISFIABLE: 416,
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
  CONFIG: 500,
  UNAVAILABLE: 503,
  DELIVERY_CAPPED: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

/** Stable error codes clients can branch on. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** Why a request was not authenticated: `details.reason` of every 401. */
export type AuthFailure =
  | 'missing_token'
  | 'malformed_token'
  | 'bad_signature'
  | 'bad_claims'
  | 'bad_token'
  | 'bad_credentials'
  | 'bad_refresh_token'
  | 'bad_worker_credential'
  | 'expired'
  | 'not_yet_valid'
  | 'unsupported_algorithm'
  | 'wrong_token_type'
  | 'not_configured';

interface ErrorExtras {
  /** Extra machine-readable facts (e.g. the list of bad fields); never secrets. */
  details?: Record<string, unknown>;
  /** Response headers the error needs (Retry-After, Content-Range). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/**
 * The one error type: a stable code (its HTTP status follows from `ERROR_STATUS`) and a message safe to
 * show to the caller. Errors are made only by the factories in `ERRORS`.
 */
export class AppError extends Error {
  override name = 'AppError';
  readonly status: ContentfulStatusCode;
  readonly details?: Record<string, unknown>;
  readonly headers?: Record<string, string>;
  private constructor(
    readonly code: ErrorCode,
    message: string,
    extras: ErrorExtras = {},
  ) {
    super(message, extras.cause === undefined ? undefined : { cause: extras.cause });
    this.status = ERROR_STATUS[code];
    if (extras.details) this.details = extras.details;
    if (extras.headers) this.headers = extras.headers;
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

  /** One factory per code; exported below as `ERRORS`. */
  static readonly factories = (() => {
    const make = (code: ErrorCode, message: string, extras?: ErrorExtras) =>
      new AppError(code, message, extras);
    /** A refusal about one request field: the message starts with the field, `details.field` names it. */
    const forField = (code: ErrorCode, field: string, message: string) =>
      make(code, `${field}: ${message}`, { details: { field } });
    const retry = (retryAfterS: number) => ({ 'Retry-After': String(retryAfterS) });
    return {
      badRequest: (message: string, details?: Record<string, unknown>) =>
        make('BAD_REQUEST', message, { details }),
      validation: (fields: { field: string; message: string }[]) =>
        make('VALIDATION_FAILED', fields.map((f) => `${f.field}: ${f.message}`).join('; '), {
          details: { fields },
        }),
      invalidPath: (message: string) => make('INVALID_PATH', message),
      pathEscapes: () => make('PATH_ESCAPES_BASE', 'Path escapes base directory'),
      invalidPart: (message: string) => make('INVALID_PART', message),
      invalidImage: (field: string, message: string) => forField('INVALID_IMAGE', field, message),
      invalidH5ad: (field: string, message: string) => forField('INVALID_H5AD', field, message),
      notAFile: (field: string) => forField('NOT_A_FILE', field, 'is a directory, not a file'),
      unknownMarkerCols: (field: string, message: string) =>
        forField('UNKNOWN_MARKER_COLS', field, message),
      backendNotAvailable: (backend: string, field = 'storage_backend') =>
        make(
          'BACKEND_NOT_AVAILABLE',
          `Backend '${backend}' is not configured here and no live worker has it`,
          { details: { field } },
        ),
      unauthorized: (reason: AuthFailure, message = 'Authentication required') =>
        make('UNAUTHORIZED', message, { details: { reason } }),
      forbidden: (message: string, field?: string) =>
        field === undefined ? make('FORBIDDEN', message) : forField('FORBIDDEN', field, message),
      pathNotAllowed: (field: string, message: string) =>
        forField('PATH_NOT_ALLOWED', field, message),
      notFound: (what: string, id: string) => make('NOT_FOUND', `${what} '${id}' not found`),
      noRoute: (method: string, path: string) =>
        make('NOT_FOUND', `No route for ${method} ${path}`),
      backendNotConfigured: (name: string) =>
        make('BACKEND_NOT_CONFIGURED', `Backend '${name}' not configured`),
      userDirNotFound: (user: string, backend: string) =>
        make('USER_DIR_NOT_FOUND', `User directory '${user}' not found in backend '${backend}'`),
      inputNotFound: (field: string, message: string) =>
        forField('INPUT_NOT_FOUND', field, message),
      sourceMissing: (message: string, field?: string) =>
        field === undefined
          ? make('SOURCE_MISSING', message)
          : forField('SOURCE_MISSING', field, message),
      methodNotAllowed: (message: string) => make('METHOD_NOT_ALLOWED', message),
      conflict: (message: string, details?: Record<string, unknown>, cause?: unknown) =>
        make('CONFLICT', message, { details, cause }),
      sourceStale: (message: string) => make('SOURCE_STALE', message),
      tooLarge: (message: string) => make('PAYLOAD_TOO_LARGE', message),
      unsupportedMediaType: (message: string) => make('UNSUPPORTED_MEDIA_TYPE', message),
      /** 416 for a Range header outside a file of `size` bytes, with `Content-Range: bytes *\/size`. */
      rangeNotSatisfiable: (range: string, size: number) =>
        make('RANGE_NOT_SATISFIABLE', `Range '${range}' is outside 0-${size - 1}`, {
          headers: { 'Content-Range': `bytes */${size}` },
        }),
      tooMany: (message: string, retryAfterS = 5) =>
        make('TOO_MANY_REQUESTS', message, {
          details: { retryAfterS },
          headers: retry(retryAfterS),
        }),
      /** An unexpected failure: the message is generic, the cause stays in the server log. */
      internal: (message = 'Internal error; see the server log for request id') =>
        make('INTERNAL', message),
      config: (message: string) => make('CONFIG', message),
      unavailable: (message: string, cause?: unknown, retryAfterS = 5) =>
        make('UNAVAILABLE', message, {
          cause,
          details: { retryAfterS },
          headers: retry(retryAfterS),
        }),
      deliveryCapped: (message: string, details: Record<string, unknown>, retryAfterS = 1) =>
        make('DELIVERY_CAPPED', message, {
          details: { retryAfterS, ...details },
          headers: retry(retryAfterS),
        }),
      /** The same refusal, told about one request field (a path error found while checking `field`). */
      withField: (err: AppError, field: string) => forField(err.code, field, err.message),
    } as const;
  })();
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

/** A validator's issues (zod's shape) as the fields of a validation error; `root` names a whole-value one. */
export const issueFields = (
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  root = '(body)',
) =>
  issues.map((i) => ({
    field: i.path.map(String).join('.') || root,
    message: i.message,
  }));

/** The error factories, so call sites read as `ERRORS.notFound('dataset', id)`. */
export const ERRORS = AppError.factories;

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
  if (code === '23505') return ERRORS.conflict('Resource already exists', undefined, err);
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

/** The SQLSTATE of an error Postgres raised (five digits or capitals), or undefined for anything else. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Postgres refused the data itself (a type, constraint or size it cannot take): the reason a job fails
 * permanently with. Undefined when the error is not from Postgres or is one of the transient states
 * above (those are retried, not failed).
 */
export function pgRejectionReason(err: unknown): string | undefined {
  const state = sqlState(err);
  if (!state || transientPgCodes.has(state)) return undefined;
  return `database rejected the data (${state}): ${(err as Error).message}`;
}
