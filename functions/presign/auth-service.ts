import { createHash, randomBytes } from 'node:crypto';
import { mintAccessToken } from '../../shared/auth/jwt.ts';
import { hashPassword, verifyPassword } from '../../shared/auth/passwords.ts';
import type { AuthSettings } from '../../shared/config/settings.ts';
import type { Db } from '../../shared/db/lazy-pool.ts';
import { ERRORS } from '../../shared/errors.ts';

const REFRESH_TTL_DAYS = 30;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

export interface TokenPair {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshToken: string;
  refreshExpiresAt: string;
}

/** What the account service uses; built once per app. */
export interface AuthServiceDeps {
  auth: AuthSettings;
  db: Db;
}

/** Users in Postgres with scrypt hashes; short access tokens and revocable 30-day refresh tokens. */
export function createAuthService({ auth, db }: AuthServiceDeps) {
  async function issue(username: string, roles: string[]): Promise<TokenPair> {
    const ttl = auth.accessTtlS;
    const accessToken = await mintAccessToken(auth, {
      sub: username,
      roles,
      ttlS: ttl,
    });
    const refreshToken = randomBytes(32).toString('base64url');
    const res = await db.query<{ expires_at: Date }>(
      `INSERT INTO refresh_tokens (token_hash, username, expires_at) VALUES ($1, $2, now() + make_interval(days => $3))
     RETURNING expires_at`,
      [sha(refreshToken), username, REFRESH_TTL_DAYS],
    );
    return {
      accessToken,
      tokenType: 'Bearer',
      expiresIn: ttl,
      refreshToken,
      refreshExpiresAt: (res.rows[0] as { expires_at: Date }).expires_at.toISOString(),
    };
  }

  return {
    async login(username: string, password: string): Promise<TokenPair> {
      const res = await db.query<{
        password_hash: string;
        roles: string[];
        disabled: boolean;
      }>('SELECT password_hash, roles, disabled FROM users WHERE username = $1', [username]);
      const user = res.rows[0];
      // Hash even for unknown users so timing does not tell which names exist.
      const ok = await verifyPassword(
        password,
        user?.password_hash ??
          'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      );
      if (!user || !ok || user.disabled)
        throw ERRORS.unauthorized('bad_credentials', 'Invalid username or password');
      return issue(username, user.roles);
    },

    async refresh(refreshToken: string): Promise<TokenPair> {
      const res = await db.query<{ username: string; roles: string[] }>(
        `UPDATE refresh_tokens t SET revoked_at = now() FROM users u
       WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now() AND u.username = t.username AND NOT u.disabled
       RETURNING u.username, u.roles`,
        [sha(refreshToken)],
      );
      const row = res.rows[0];
      if (!row)
        throw ERRORS.unauthorized(
          'bad_refresh_token',
          'Refresh token is invalid, expired or revoked',
        );
      // Rotation: the used refresh token is revoked and a new pair issued.
      return issue(row.username, row.roles);
    },

    async logout(refreshToken: string): Promise<void> {
      await db.query(
        'UPDATE refresh_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL',
        [sha(refreshToken)],
      );
    },

    async createUser(u: { username: string; password: string; roles: string[] }) {
      const hash = await hashPassword(u.password);
      const res = await db.query(
        'INSERT INTO users (username, password_hash, roles) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING',
        [u.username, hash, u.roles],
      );
      if (res.rowCount === 0) throw ERRORS.conflict(`User '${u.username}' already exists`);
      return { username: u.username, roles: u.roles };
    },

    async listUsers() {
      const res = await db.query<{
        username: string;
        roles: string[];
        disabled: boolean;
        created_at: Date;
      }>('SELECT username, roles, disabled, created_at FROM users ORDER BY username');
      return res.rows.map((u) => ({
        username: u.username,
        roles: u.roles,
        disabled: u.disabled,
        createdAt: u.created_at.toISOString(),
      }));
    },

    /** A new password; the user's refresh tokens are revoked so old sessions end. */
    async setPassword(username: string, password: string) {
      const hash = await hashPassword(password);
      const res = await db.query('UPDATE users SET password_hash = $2 WHERE username = $1', [
        username,
        hash,
      ]);
      if (res.rowCount === 0) throw ERRORS.notFound('user', username);
      await db.query(
        'UPDATE refresh_tokens SET revoked_at = now() WHERE username = $1 AND revoked_at IS NULL',
        [username],
      );
      return { username, status: 'password changed' as const };
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
