/** Bound on one API call when the caller names none (the CLI, the rescan command, the worker). */
export const API_TIMEOUT_MS = 30_000;

/** An API call that failed: its status (0: no answer) and the server's error body. */
export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    /** The server's `{ statusCode, code, error, message }`, or `{}` when it sent none. */
    readonly body: { code?: string; message?: string; [k: string]: unknown },
    message: string,
  ) {
    super(message);
  }
}

export interface ApiRequest {
  /** Origin of the API, without a trailing slash. */
  base: string;
  method: string;
  /** `/api/v1/...`, with its query string. */
  path: string;
  token?: string;
  /** Sent as JSON. */
  body?: unknown;
  timeoutMs?: number;
}

/**
 * The one HTTP call of every Sluice client: JSON in and out, bounded by `timeoutMs`, a non-2xx
 * answer or no answer thrown as an {@link ApiError} carrying the status and the server's body.
 */
export async function apiRequest<T = Record<string, unknown>>(req: ApiRequest): Promise<T> {
  const { base, method, path, token, body } = req;
  const timeoutMs = req.timeoutMs ?? API_TIMEOUT_MS;
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why =
      e.name === 'TimeoutError'
        ? `no answer within ${timeoutMs / 1000} s`
        : (e.cause?.code ?? e.message);
    throw new ApiError(method, path, 0, {}, `${method} ${base}${path}: ${why}`);
  }
  const text = await res.text();
  let out: unknown;
  try {
    out = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(
      method,
      path,
      res.status,
      {},
      `${method} ${path} answered ${res.status} with a body that is not JSON`,
    );
  }
  if (!res.ok) {
    const errBody = (typeof out === 'object' && out !== null ? out : {}) as ApiError['body'];
    const message = errBody.message ?? `${method} ${path} answered ${res.status}`;
    throw new ApiError(method, path, res.status, errBody, message);
  }
  return out as T;
}
