import type pg from 'pg';
import { createTokenVerifier, type TokenVerifier } from './auth/jwt.ts';
import type { Config } from './config/load.ts';
import { type Db, LazyPool } from './db/lazy-pool.ts';
import { createLogger, type Logger } from './log/logger.ts';
import { createS3Clients, type S3Clients, s3Probe } from './object-store/clients.ts';
import { StorageResolver } from './storage/resolver.ts';

/**
 * Everything a function needs, created once per process by a runtime entry (or by a test) and passed
 * to `create*App(services)`. Clients are created lazily on first use; creating them makes no network call.
 */
export interface Services {
  config: Config;
  log: Logger;
  /** Postgres; the driver loads and the pool is created on the first query. */
  readonly db: Db;
  /** The pool if something already created it (metrics must not open connections). */
  readonly dbIfCreated: pg.Pool | undefined;
  readonly s3: S3Clients;
  storage: StorageResolver;
  verifyToken: TokenVerifier;
  /** Releases pools and sockets; entries call it on shutdown. */
  close(): Promise<void>;
}

/** Builds the services for `config`. `overrides` lets tests and the local stack inject their own pieces. */
export function createServices(
  config: Config,
  overrides: Partial<Pick<Services, 'log' | 'db' | 's3'>> = {},
): Services {
  const log =
    overrides.log ??
    createLogger({ level: config.log.level, file: config.log.file, name: 'sluice' });
  // An override is a pg.Pool or another services' LazyPool; this one owns (and ends) only its own.
  const own = overrides.db
    ? undefined
    : new LazyPool({
        url: config.database.url,
        max: config.database.poolMax,
        connectTimeoutMs: config.database.connectTimeoutMs,
        queryTimeoutMs: config.database.queryTimeoutMs,
        lockTimeoutMs: config.database.lockTimeoutMs,
      });
  const db = overrides.db ?? (own as LazyPool);
  let s3 = overrides.s3;
  const getS3 = () => {
    s3 ??= createS3Clients(config.s3);
    return s3;
  };
  const probe = (bucket: string, prefix: string) => s3Probe(getS3())(bucket, prefix);
  return {
    config,
    log,
    db,
    get dbIfCreated() {
      return db instanceof LazyPool ? db.created : (db as pg.Pool);
    },
    get s3() {
      return getS3();
    },
    storage: new StorageResolver(
      config.storage,
      { bucket: config.s3.bucket, s3Probe: probe, healthTtlS: config.storageHealthTtlS },
      log,
    ),
    verifyToken: createTokenVerifier(config.auth),
    async close() {
      await own?.end().catch(() => {});
      if (s3 && !overrides.s3) {
        s3.internal.destroy();
        s3.admin.destroy();
        s3.signer.destroy();
      }
    },
  };
}
