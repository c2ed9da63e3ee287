import type { Command } from 'commander';
import { apiBase } from '../lib/api.ts';
import { readCredentials, removeCredentials, saveCredentials } from '../lib/stack-file.ts';

/** `sluice login` / `sluice logout`: a local account's tokens, saved for the next commands. */
export function register(program: Command): void {
  program
    .command('login')
    .description(
      'log in with a local account (labs without an identity provider); saves the tokens',
    )
    .requiredOption('--user <name>')
    .option('--password <password>', 'or set SLUICE_PASSWORD (keeps it out of the shell history)')
    .action(async (o: { user: string; password?: string }) => {
      const { json } = program.opts<{ json?: boolean }>();
      const base = apiBase(program);
      const password = o.password ?? process.env.SLUICE_PASSWORD;
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
      const file = await saveCredentials({
        api: base,
        user: o.user,
        accessToken: out.accessToken,
        refreshToken: out.refreshToken,
        expiresIn: out.expiresIn,
      });
      process.stdout.write(
        json
          ? `${JSON.stringify({ user: o.user, expiresIn: out.expiresIn })}\n`
          : `logged in as ${o.user} (token saved in ${file}; it is refreshed when it runs out)\n`,
      );
    });

  program
    .command('logout')
    .description(
      'revoke the saved login and forget it (commands then use SLUICE_TOKEN or the dev token)',
    )
    .action(async () => {
      const creds = readCredentials();
      let revoked = false;
      if (creds?.refreshToken) {
        // Best effort: an unreachable API must not keep the user logged in locally.
        revoked = await fetch(`${creds.api}/auth/logout`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refreshToken: creds.refreshToken }),
        }).then(
          (r) => r.ok,
          () => false,
        );
      }
      const had = await removeCredentials();
      const { json } = program.opts<{ json?: boolean }>();
      process.stdout.write(
        json
          ? `${JSON.stringify({ loggedOut: had, user: creds?.user ?? null, revoked })}\n`
          : had
            ? `logged out ${creds?.user ?? ''}${revoked ? ' (refresh token revoked)' : ''}\n`
            : 'not logged in\n',
      );
    });
}
