import { ApiError, apiRequest } from '../lib/api-request.ts';

/** A worker that can no longer authenticate: it says so once and stops (the CLI exits non-zero). */
export class WorkerAuthError extends Error {}

export interface SessionOptions {
  api: string;
  /** A fixed access token (JWT with the worker role): works until it expires. */
  token?: string;
  /** A worker credential (`sluice worker-credential add`): exchanged for short access tokens, renewed. */
  credential?: string;
  /** Bound on each API request, ms. */
  requestTimeoutMs?: number;
}

/**
 * The worker's API calls with its authentication: a fixed token, or a worker credential exchanged at
 * `POST /api/v1/worker-credentials/token` and renewed when a third of its life is left or on a 401.
 * A 401 that renewal cannot cure is a `WorkerAuthError`.
 */
export function createSession(opts: SessionOptions) {
  if (!opts.token && !opts.credential) throw new Error('a worker needs a token or a credential');
  const timeoutMs = opts.requestTimeoutMs ?? 30_000;
  let access = opts.credential ? undefined : opts.token;
  let renewAt = Number.POSITIVE_INFINITY;

  const request = <T>(method: string, path: string, token: string | undefined, body?: unknown) =>
    apiRequest<T>({ base: opts.api, method, path, token, body, timeoutMs });

  async function renew(): Promise<string> {
    const out = await request<{ accessToken: string; expiresIn: number }>(
      'POST',
      '/api/v1/worker-credentials/token',
      undefined,
      { credential: opts.credential },
    ).catch((err: ApiError) => {
      if (err.status === 401 || err.status === 403)
        throw new WorkerAuthError(`worker credential refused: ${err.message}`);
      throw new Error(`worker token exchange: ${err.status} ${err.message}`);
    });
    const ttl = Number(out.expiresIn);
    access = String(out.accessToken);
    renewAt = Date.now() + (ttl * 1000 * 2) / 3;
    return access;
  }

  async function bearer(force = false): Promise<string> {
    if (opts.credential && (force || !access || Date.now() >= renewAt)) return renew();
    return access as string;
  }

  return {
    /** One API call; throws `WorkerAuthError` when the worker cannot authenticate any more. */
    async call<T>(method: string, url: string, body?: unknown): Promise<T> {
      const once = async (force: boolean) => request<T>(method, url, await bearer(force), body);
      try {
        return await once(false).catch((err: unknown) => {
          if (err instanceof ApiError && err.status === 401 && opts.credential) return once(true);
          throw err;
        });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        if (err.status === 401)
          throw new WorkerAuthError(`${method} ${url}: 401 ${err.message ?? 'unauthorized'}`);
        throw new Error(`${method} ${url}: ${err.status} ${err.message}`);
      }
    },
  };
}
