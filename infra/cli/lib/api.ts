import type { Command } from 'commander';
import { readStackFile, savedToken } from './stack-file.ts';

/** Calls the Sluice API with the caller's token; errors carry the server's message. */
export function apiClient(program: Command) {
  const opts = program.opts<{ api?: string; token?: string; json?: boolean }>();
  const stack = readStackFile();
  const base = opts.api ?? process.env.SLUICE_API ?? stack?.api;
  const token = opts.token ?? process.env.SLUICE_TOKEN ?? savedToken() ?? stack?.devToken;
  if (!base)
    throw new Error(
      'no API: pass --api, set SLUICE_API, or run next to a local stack (.sluice/stack.json)',
    );
  if (!token)
    throw new Error(
      'no token: pass --token or set SLUICE_TOKEN (sluice token or sluice login give you one)',
    );
  return {
    json: opts.json === true,
    async call<T = Record<string, unknown>>(
      method: string,
      path: string,
      body?: unknown,
    ): Promise<T> {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      const out = (text ? JSON.parse(text) : {}) as T & { message?: string };
      if (!res.ok) throw new Error(`${out.message ?? `${method} ${path} answered ${res.status}`}`);
      return out;
    },
    /** JSON for scripts, or the human rendering. */
    print(value: unknown, human: () => string) {
      process.stdout.write(opts.json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
    },
  };
}
