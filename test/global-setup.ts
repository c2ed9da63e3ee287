import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePort } from '../infra/local/free-port.ts';
import { startLocalPostgres } from '../infra/local/postgres.ts';
import { startLocalS3 } from '../infra/local/s3-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
    pgPort: number;
    pgDataDir: string;
    s3Endpoint: string;
    s3AccessKey: string;
    s3SecretKey: string;
  }
}

/** Starts one real Postgres and one real S3-protocol server for the whole run. */
export default async function setup(project: TestProject) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'sluice-test-'));
  const pgDataDir = path.join(root, 'pg');
  const pg = await startLocalPostgres({ dir: pgDataDir, port: await freePort() });
  const s3 = await startLocalS3({
    dir: path.join(root, 's3'),
    port: await freePort(),
    buckets: [],
  });
  project.provide('pgUrl', pg.url());
  project.provide('pgPort', pg.port);
  project.provide('pgDataDir', pgDataDir);
  project.provide('s3Endpoint', s3.endpoint);
  project.provide('s3AccessKey', s3.accessKey);
  project.provide('s3SecretKey', s3.secretKey);
  return async () => {
    await s3.stop().catch(() => {});
    await pg.stop().catch(() => {});
    await rm(root, { recursive: true, force: true }).catch(() => {});
  };
}
