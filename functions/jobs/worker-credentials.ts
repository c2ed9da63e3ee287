import { createHash, randomBytes } from 'node:crypto';
import { mintAccessToken, type Principal } from '../../shared/auth/jwt.ts';
import { ERRORS } from '../../shared/errors.ts';
import type { Services } from '../../shared/services.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
/** `sluice-wc.<id>.<secret>`: the id finds the row, the secret is compared by its hash. */
const FORMAT = /^sluice-wc\.([a-f0-9]{16})\.([A-Za-z0-9_-]{43})$/;

/** Worker principals live in their own namespace, so a credential can never act as a user. */
export const workerPrincipal = (name: string) => `worker:${name}`;

interface CredentialRow {
  id: string;
  principal: string;
  note: string | null;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}
const cols = `id, principal, note, created_by AS "createdBy", created_at AS "createdAt", expires_at AS "expiresAt",
  revoked_at AS "revokedAt", last_used_at AS "lastUsedAt"`;

/**
 * Long-lived, revocable credentials for worker agents (an admin mints one per worker or pool). A
 * worker exchanges its credential for an access token with only the `worker` role, lasting
 * `SLUICE_ACCESS_TTL_S`, and renews it; a revoked or expired credential stops the worker at its next
 * renewal.
 */
export const workerCredentials = {
  async mint(
    services: Services,
    who: Principal,
    input: { name: string; ttl_days: number; note?: string },
  ) {
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const res = await services.db.query<CredentialRow>(
      `INSERT INTO worker_credentials (id, secret_hash, principal, note, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, now() + make_interval(days => $6)) RETURNING ${cols}`,
      [id, sha(secret), workerPrincipal(input.name), input.note ?? null, who.sub, input.ttl_days],
    );
    // The secret is shown once; only its hash is stored.
    return { ...(res.rows[0] as CredentialRow), credential: `sluice-wc.${id}.${secret}` };
  },

  async list(services: Services) {
    const res = await services.db.query<CredentialRow>(
      `SELECT ${cols} FROM worker_credentials ORDER BY created_at DESC`,
    );
    return res.rows;
  },

  async revoke(services: Services, id: string) {
    const res = await services.db.query<CredentialRow>(
      `UPDATE worker_credentials SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING ${cols}`,
      [id],
    );
    const row = res.rows[0];
    if (!row) throw ERRORS.notFound('worker credential', id);
    return row;
  },

  /** A short access token for a valid credential, or a 401 that says why not. */
  async exchange(services: Services, credential: string) {
    const m = FORMAT.exec(credential);
    const res = m
      ? await services.db.query<{ principal: string }>(
          `UPDATE worker_credentials SET last_used_at = now()
           WHERE id = $1 AND secret_hash = $2 AND revoked_at IS NULL AND expires_at > now() RETURNING principal`,
          [m[1], sha(m[2] as string)],
        )
      : undefined;
    const row = res?.rows[0];
    if (!row)
      throw ERRORS.unauthorized(
        'bad_worker_credential',
        'Worker credential is invalid, expired or revoked',
      );
    if (!services.config.auth.jwtSecret)
      throw ERRORS.unavailable('Worker credentials need JWT_SECRET on the API to mint tokens');
    const ttl = services.config.auth.accessTtlS;
    const token = await mintAccessToken(services.config.auth, {
      sub: row.principal,
      roles: ['worker'],
      ttlS: ttl,
    });
    return {
      accessToken: token,
      tokenType: 'Bearer' as const,
      expiresIn: ttl,
      principal: row.principal,
    };
  },
};
