import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { inject } from 'vitest';
import { mintAccessToken } from '../../shared/auth/jwt.ts';
import { type Config, parseConfig } from '../../shared/config/load.ts';
import { migrate } from '../../shared/db/migrate.ts';
import { silentLogger } from '../../shared/log/logger.ts';
import { createServices, type Services } from '../../shared/services.ts';

export interface TestStack {
  config: Config;
  services: Services;
  /** Connection string of this file's own database. */
  databaseUrl: string;
  database: string;
  bucket: string;
  /** A scratch directory (0755, so the postgres OS user could read it too). */
  tmp: string;
  /** Mints an access token for `sub` signed with this stack's secret. */
  token(sub: string, roles?: string[]): Promise<string>;
  close(): Promise<void>;
}

/**
 * The settings (environment strings) that reach this stack's database and bucket: for a child process
 * or a second set of services with some settings changed.
 */
export function stackEnv(stack: TestStack): Record<string, string> {
  return {
    JWT_SECRET: 'x',
    DATABASE_URL: stack.databaseUrl,
    MINIO_ENDPOINT: stack.config.s3.endpoint,
    MINIO_ACCESS_KEY: stack.config.s3.accessKey as string,
    MINIO_SECRET_KEY: stack.config.s3.secretKey as string,
    MINIO_BUCKET: stack.bucket,
  };
}

/**
 * Gives a test file its own database (migrated) and its own bucket on the run's shared Postgres and S3
 * servers, plus services configured for them. `env` adds or overrides settings (as environment strings).
 */
export async function createTestStack(env: Record<string, string> = {}): Promise<TestStack> {
  const id = randomBytes(5).toString('hex');
  const database = `t_${id}`;
  const bucket = `t-${id}`;
  const admin = new pg.Client({ connectionString: inject('pgUrl') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const databaseUrl = inject('pgUrl').replace(/\/[^/]*$/, `/${database}`);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'sluice-t-'));
  await mkdir(path.join(tmp, 'data'), { recursive: true });
  const config = parseConfig({
    JWT_SECRET: `test-secret-${id}`,
    DATABASE_URL: databaseUrl,
    MINIO_ENDPOINT: inject('s3Endpoint'),
    MINIO_ACCESS_KEY: inject('s3AccessKey'),
    MINIO_SECRET_KEY: inject('s3SecretKey'),
    MINIO_BUCKET: bucket,
    AIMINO_DATA_ROOT: path.join(tmp, 'data'),
    SLUICE_WEBHOOK_TOKEN: 'test-webhook-token',
    SLUICE_RESCAN_TOKEN: 'test-rescan-token',
    SLUICE_METRICS_TOKEN: 'test-metrics-token',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const services = createServices(config, { log: silentLogger });
  await services.s3.internal.send(new CreateBucketCommand({ Bucket: bucket }));
  await migrate(services.db);
  return {
    config,
    services,
    databaseUrl,
    database,
    bucket,
    tmp,
    token: (sub, roles = []) => mintAccessToken(config.auth, { sub, roles }),
    async close() {
      await services.close();
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
    },
  };
}
