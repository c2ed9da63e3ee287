import type { Command } from 'commander';
import { apiClient } from '../lib/api.ts';

/** The password from --password or SLUICE_PASSWORD (which keeps it out of the shell history). */
function password(o: { password?: string }): string {
  const p = o.password ?? process.env.SLUICE_PASSWORD;
  if (!p) throw new Error('no password: pass --password or set SLUICE_PASSWORD');
  return p;
}

/** `sluice users add|ls|passwd`: local accounts, for admins. */
export function register(program: Command): void {
  const users = program.command('users').description('local accounts (admins)');
  users
    .command('add')
    .description('create a local user')
    .argument('<username>')
    .option('--password <password>', 'at least 8 characters; or set SLUICE_PASSWORD')
    .option('--role <role...>', 'roles to grant (admin, worker)', [])
    .action(async (username: string, o: { password?: string; role: string[] }) => {
      const api = apiClient(program);
      const out = await api.call('POST', '/auth/users', {
        username,
        password: password(o),
        roles: o.role,
      });
      api.print(out, () => `created ${username}${o.role.length ? ` (${o.role.join(', ')})` : ''}`);
    });
  users
    .command('ls')
    .description('list local users')
    .action(async () => {
      const api = apiClient(program);
      const { users: list } = await api.call<{
        users: { username: string; roles: string[]; disabled: boolean; createdAt: string }[];
      }>('GET', '/auth/users');
      api.print(list, () =>
        list.length === 0
          ? '(none)'
          : list
              .map(
                (u) =>
                  `${u.username}\t${u.roles.join(',') || '-'}\t${u.disabled ? 'disabled' : 'active'}\t${u.createdAt}`,
              )
              .join('\n'),
      );
    });
  users
    .command('passwd')
    .description("set a user's password (their sessions end)")
    .argument('<username>')
    .option('--password <password>', 'at least 8 characters; or set SLUICE_PASSWORD')
    .action(async (username: string, o: { password?: string }) => {
      const api = apiClient(program);
      const out = await api.call('PUT', `/auth/users/${encodeURIComponent(username)}/password`, {
        password: password(o),
      });
      api.print(out, () => `password changed for ${username}`);
    });
}
