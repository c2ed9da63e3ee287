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

  const request = (method: string, url: string, token: string | undefined, body?: unknown) =>
    fetch(`${opts.api}${url}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        'content-type': 'application/json',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  const read = async (res: Response) =>
    (await res.json().catch(() => ({}))) as Record<string, unknown> & { message?: string };

  async function renew(): Promise<string> {
    const res = await request('POST', '/api/v1/worker-credentials/token', undefined, {
      credential: opts.credential,
    });
    const out = await read(res);
    if (res.status === 401 || res.status === 403)
      throw new WorkerAuthError(`worker credential refused: ${out.message ?? res.status}`);
    if (!res.ok) throw new Error(`worker token exchange: ${res.status} ${out.message ?? ''}`);
    const ttl = Number(out.expires_in);
    access = String(out.access_token);
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
      let res = await request(method, url, await bearer(), body);
      if (res.status === 401 && opts.credential)
        res = await request(method, url, await bearer(true), body);
      const out = await read(res);
      if (res.status === 401)
        throw new WorkerAuthError(`${method} ${url}: 401 ${out.message ?? 'unauthorized'}`);
      if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${out.message ?? ''}`);
      return out as T;
    },
  };
}
