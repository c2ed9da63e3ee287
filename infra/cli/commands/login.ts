import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { readStackFile } from '../lib/stack-file.ts';

/** `sluice login`: a local account's tokens, saved for the next commands. */
export function register(program: Command): void {
  program
    .command('login')
    .description(
      'log in with a local account (labs without an identity provider); saves the tokens',
    )
    .requiredOption('--user <name>')
    .option('--password <password>', 'or set SLUICE_PASSWORD (keeps it out of the shell history)')
    .action(async (o: { user: string; password?: string }) => {
      const { api, json } = program.opts<{ api?: string; json?: boolean }>();
      const base = api ?? process.env.SLUICE_API ?? readStackFile()?.api;
      const password = o.password ?? process.env.SLUICE_PASSWORD;
      if (!base) throw new Error('no API: pass --api or set SLUICE_API');
      if (!password) throw new Error('no password: pass --password or set SLUICE_PASSWORD');
      const res = await fetch(`${base}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: o.user, password }),
      });
      const out = (await res.json()) as {
        accessToken?: string;
        refreshToken?: string;
        expiresIn?: number;
        message?: string;
      };
      if (!res.ok || !out.accessToken)
        throw new Error(out.message ?? `login answered ${res.status}`);
      const dir = path.resolve(process.env.SLUICE_STATE_DIR ?? '.sluice');
      await mkdir(dir, { recursive: true });
      await writeFile(
        path.join(dir, 'credentials.json'),
        JSON.stringify({ api: base, user: o.user, ...out }, null, 2),
        { mode: 0o600 },
      );
      process.stdout.write(
        json
          ? `${JSON.stringify({ user: o.user, expiresIn: out.expiresIn })}\n`
          : `logged in as ${o.user} (token saved in ${path.join(dir, 'credentials.json')})\n`,
      );
    });
}
