import type { Command } from 'commander';
import { decodeJwt } from 'jose';
import { ApiError, apiRequest } from '../../lib/api-request.ts';
import { type Credentials, readCredentials, readStackFile, saveCredentials } from './stack-file.ts';

/** The API base URL: --api, SLUICE_API, or the local stack's. */
export function apiBase(program: Command): string {
  const base =
    program.opts<{ api?: string }>().api ?? process.env.SLUICE_API ?? readStackFile()?.api;
  if (!base)
    throw new Error(
      'no API: pass --api, set SLUICE_API, or run inside a folder with a local stack (.sluice/stack.json; or set SLUICE_STATE_DIR)',
    );
  return base.replace(/\/$/, '');
}

/** Seconds left on a JWT, or undefined when it carries no expiry or is not a JWT. */
function secondsLeft(token: string): number | undefined {
  try {
    const { exp } = decodeJwt(token);
    return exp === undefined ? undefined : exp - Date.now() / 1000;
  } catch {
    return undefined;
  }
}

/** Trades the saved refresh token for a new pair and saves it; throws a message saying what to do. */
async function refreshLogin(creds: Credentials): Promise<Credentials> {
  const stale = `your saved login (${creds.user}) has expired`;
  const fix = 'run `sluice login` again, or `sluice logout` to use the local dev token';
  if (!creds.refreshToken) throw new Error(`${stale}: ${fix}`);
  const out = await apiRequest<Partial<Credentials>>({
    base: creds.api,
    method: 'POST',
    path: '/auth/refresh',
    body: { refreshToken: creds.refreshToken },
  }).catch((err: ApiError) => {
    throw new Error(`${stale} and could not be refreshed (${err.message}): ${fix}`);
  });
  if (!out.accessToken) throw new Error(`${stale} and could not be refreshed: ${fix}`);
  const next: Credentials = {
    ...creds,
    accessToken: out.accessToken,
    refreshToken: out.refreshToken ?? creds.refreshToken,
    expiresIn: out.expiresIn,
  };
  await saveCredentials(next);
  return next;
}

/** Calls the Sluice API with the caller's token; errors carry the server's message. */
export function apiClient(program: Command) {
  const opts = program.opts<{ token?: string; json?: boolean; timeout?: string }>();
  const timeoutMs = opts.timeout ? Number(opts.timeout) * 1000 : undefined;
  const base = apiBase(program);
  const explicit = opts.token ?? process.env.SLUICE_TOKEN;
  // A saved login counts only for the API it was made against, so it never shadows another stack.
  let login = explicit ? undefined : readCredentials();
  if (login && login.api.replace(/\/$/, '') !== base) login = undefined;
  const fallback = readStackFile()?.devToken || undefined;
  if (!explicit && !login && !fallback)
    throw new Error(
      'no token: pass --token or set SLUICE_TOKEN (sluice token or sluice login give you one)',
    );

  async function token(): Promise<string> {
    if (explicit) return explicit;
    if (login) {
      const left = secondsLeft(login.accessToken);
      if (left !== undefined && left < 30) login = await refreshLogin(login);
      return login.accessToken;
    }
    return fallback as string;
  }

  return {
    json: opts.json === true,
    async call<T = Record<string, unknown>>(
      method: string,
      path: string,
      body?: unknown,
    ): Promise<T> {
      const send = async () =>
        apiRequest<T>({ base, method, path, body, token: await token(), timeoutMs });
      try {
        return await send();
      } catch (err) {
        // A login token revoked or expired early (clock skew): refresh once and retry.
        if (!(err instanceof ApiError && err.status === 401 && login)) throw err;
        login = await refreshLogin(login);
        return send();
      }
    },
    /** JSON for scripts, or the human rendering. */
    print(value: unknown, human: () => string) {
      process.stdout.write(opts.json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
    },
  };
}
