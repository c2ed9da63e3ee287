import type { Command } from 'commander';
import { mintAccessToken } from '../../../shared/auth/jwt.ts';
import { localJwtSecret } from '../lib/stack-file.ts';

/** `sluice token`: mints an access token with the admin secret (JWT_SECRET or the local stack's). */
export function register(program: Command): void {
  program
    .command('token')
    .description('mint an access token signed with JWT_SECRET (or the local stack secret)')
    .requiredOption('--sub <user>', 'the user the token is for')
    .option('--role <role...>', 'roles to grant (admin, worker)', [])
    .option('--ttl <seconds>', 'lifetime in seconds', '3600')
    .action(async (opts: { sub: string; role: string[]; ttl: string }) => {
      const secret = localJwtSecret();
      if (!secret) throw new Error('no JWT_SECRET in the environment and no .sluice/secrets.json');
      const ttl = Number(opts.ttl);
      if (!Number.isInteger(ttl) || ttl <= 0)
        throw new Error('--ttl must be a positive number of seconds');
      const token = await mintAccessToken(
        {
          jwtSecret: secret,
          issuer: process.env.SLUICE_JWT_ISSUER,
          audience: process.env.SLUICE_JWT_AUDIENCE,
        },
        { sub: opts.sub, roles: opts.role, ttlS: ttl },
      );
      const json = program.opts<{ json?: boolean }>().json;
      process.stdout.write(
        json
          ? `${JSON.stringify({ token, sub: opts.sub, roles: opts.role, expiresIn: ttl })}\n`
          : `${token}\n`,
      );
    });
}
