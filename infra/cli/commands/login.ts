import type { Command } from 'commander';
import { apiRequest } from '../../lib/api-request.ts';
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
      const out = await apiRequest<{
        accessToken?: string;
        refreshToken?: string;
        expiresIn?: number;
      }>({ base, method: 'POST', path: '/auth/login', body: { username: o.user, password } });
      if (!out.accessToken) throw new Error('login answered without an access token');
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
        revoked = await apiRequest({
          base: creds.api,
          method: 'POST',
          path: '/auth/logout',
          body: { refreshToken: creds.refreshToken },
          timeoutMs: 5_000,
        }).then(
          () => true,
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
