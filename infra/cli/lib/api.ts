import type { Command } from 'commander';
import { decodeJwt } from 'jose';
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
  const res = await fetch(`${creds.api}/auth/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken: creds.refreshToken }),
  });
  const out = (await res.json().catch(() => ({}))) as Partial<Credentials> & { message?: string };
  if (!res.ok || !out.accessToken)
    throw new Error(`${stale} and could not be refreshed (${out.message ?? res.status}): ${fix}`);
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
  const opts = program.opts<{ token?: string; json?: boolean }>();
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
        fetch(`${base}${path}`, {
          method,
          headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      let res = await send();
      // A login token revoked or expired early (clock skew): refresh once and retry.
      if (res.status === 401 && login) {
        login = await refreshLogin(login);
        res = await send();
      }
      const text = await res.text();
      let out: T & { message?: string };
      try {
        out = (text ? JSON.parse(text) : {}) as T & { message?: string };
      } catch {
        throw new Error(`${method} ${path} answered ${res.status} with a body that is not JSON`);
      }
      if (!res.ok) throw new Error(`${out.message ?? `${method} ${path} answered ${res.status}`}`);
      return out;
    },
    /** JSON for scripts, or the human rendering. */
    print(value: unknown, human: () => string) {
      process.stdout.write(opts.json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
    },
  };
}
