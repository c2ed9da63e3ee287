// `npm start`: the whole stack on one machine with nothing else installed. Embedded Postgres and a local
// S3-protocol server start unless the environment points at real ones; every function is mounted on PORT.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { createApp } from '../../functions/registry.ts';
import { mintAccessToken } from '../../shared/auth/jwt.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { migrate } from '../../shared/db/migrate.ts';
import { drainOnSignals, serveNode } from '../../shared/http/serve-node.ts';
import { createServices } from '../../shared/services.ts';
import { s3Cause } from '../cli/lib/s3-cause.ts';
import { createWebhookRelay } from './event-relay.ts';
import { freePort } from './free-port.ts';
import { type LocalPostgres, startLocalPostgres, stopStalePostgres } from './postgres.ts';
import { type LocalS3, startLocalS3 } from './s3-server.ts';

const env = { ...process.env };
const stateDir = path.resolve(env.SLUICE_STATE_DIR ?? '.sluice');
await mkdir(stateDir, { recursive: true });

/** Secrets generated once and kept in `.sluice/secrets.json`, so a restart keeps tokens valid. */
function localSecrets(): Record<string, string> {
  const file = path.join(stateDir, 'secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  const gen = () => randomBytes(24).toString('base64url');
  const secrets = { JWT_SECRET: gen(), SLUICE_WEBHOOK_TOKEN: gen(), SLUICE_RESCAN_TOKEN: gen() };
  void writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

async function portOr(preferred: number): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => void freePort().then(resolve));
    srv.listen(preferred, '127.0.0.1', () => srv.close(() => resolve(preferred)));
  });
}

const say = (msg: string) => process.stdout.write(`[sluice] ${msg}\n`);
const secrets = localSecrets();
for (const [k, v] of Object.entries(secrets)) env[k] ??= v;
env.AIMINO_DATA_ROOT ??= path.join(stateDir, 'data');
env.LOG_LEVEL ??= 'info';

let pg: LocalPostgres | undefined;
let s3: LocalS3 | undefined;
let services: ReturnType<typeof createServices> | undefined;

/** Stops whatever this run started, newest first; for a failed start-up as for Ctrl-C. */
async function stopStarted(): Promise<void> {
  await services?.close().catch(() => {});
  await s3?.stop().catch(() => {});
  await pg?.stop().catch(() => {});
}

/**
 * A start-up that fails stops what it started and says why, so no Postgres outlives it (a stray one
 * would hold the data folder and push the next run's Postgres to another port).
 */
async function startUp() {
  if (!env.DATABASE_URL && !env.POSTGRES_HOST) {
    const pgDir = path.join(stateDir, 'pg');
    await stopStalePostgres(pgDir, say);
    const port = await portOr(Number(env.SLUICE_PG_PORT ?? 54329));
    say(`starting embedded Postgres on 127.0.0.1:${port} (data in ${pgDir})`);
    pg = await startLocalPostgres({ dir: pgDir, port, ownSignals: true });
    await pg.createDatabase('sluice');
    env.DATABASE_URL = pg.url('sluice');
  }
  if (!env.MINIO_ENDPOINT) {
    const port = await portOr(Number(env.SLUICE_S3_PORT ?? 9000));
    s3 = await startLocalS3({ dir: path.join(stateDir, 's3'), port, buckets: [] });
    say(`started local S3-protocol server on ${s3.endpoint}`);
    env.MINIO_ENDPOINT = s3.endpoint;
    env.MINIO_ACCESS_KEY ??= s3.accessKey;
    env.MINIO_SECRET_KEY ??= s3.secretKey;
  }
  const config = parseConfig(env);
  services = createServices(config);
  await mkdir(config.dataRoot, { recursive: true });
  const applied = await migrate(services.db);
  if (applied.length) say(`applied migrations: ${applied.join(', ')}`);
  try {
    await services.s3.internal.send(new HeadBucketCommand({ Bucket: config.s3.bucket }));
  } catch {
    await services.s3.internal
      .send(new CreateBucketCommand({ Bucket: config.s3.bucket }))
      .catch((err: unknown) => {
        throw new Error(`object store ${config.s3.endpoint}: ${s3Cause(err)}`);
      });
    say(`created bucket ${config.s3.bucket}`);
  }
  const srv = await serveNode(createApp('all', services), { port: config.port, log: services.log });
  return { config, services, srv };
}

let started: Awaited<ReturnType<typeof startUp>>;
try {
  started = await startUp();
} catch (err) {
  const message = err instanceof Error ? err.message : String(err ?? 'unknown error');
  process.stderr.write(`[sluice] start-up failed: ${message}\n`);
  await stopStarted();
  say('stopped what had started; nothing is left running');
  process.exit(1);
}
const { config, srv } = started;
const svc = started.services;
const api = `http://127.0.0.1:${config.port}`;

const relay =
  s3 && config.local.events
    ? createWebhookRelay({
        url: `${api}/minio-event`,
        token: config.events.webhookToken,
        log: say,
        // The webhook answers within the ingest deadline; a delivery waits a little longer than that.
        timeoutMs: config.events.ingestTimeoutMs + 60_000,
      })
    : undefined;
if (s3 && relay) s3.onEvent((e) => relay.push(e));

let rescanTimer: NodeJS.Timeout | undefined;
if (config.rescan.intervalS > 0) {
  rescanTimer = setInterval(() => {
    fetch(`${api}/rescan`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${config.rescan.token}`,
        'content-type': 'application/json',
      },
      body: '{}',
    })
      .then((r) => r.arrayBuffer())
      .catch((err: Error) => say(`scheduled rescan failed: ${err.message}`));
  }, config.rescan.intervalS * 1000);
  rescanTimer.unref();
}

const devToken = await mintAccessToken(config.auth, {
  sub: 'dev',
  roles: ['admin'],
  ttlS: config.auth.maxTokenTtlS,
});
const stack = {
  api,
  databaseUrl: config.database.url,
  s3: {
    endpoint: config.s3.endpoint,
    publicEndpoint: config.s3.publicEndpoint,
    bucket: config.s3.bucket,
    region: config.s3.region,
    accessKey: config.s3.accessKey,
    secretKey: config.s3.secretKey,
  },
  devToken,
  webhookToken: config.events.webhookToken,
  rescanToken: config.rescan.token,
  dataRoot: config.dataRoot,
  storageConfig: env.SLUICE_CONFIG ? path.resolve(env.SLUICE_CONFIG) : undefined,
};
await writeFile(path.join(stateDir, 'stack.json'), JSON.stringify(stack, null, 2), { mode: 0o600 });

say(`API        ${api}   (docs ${api}/docs)`);
say(`Postgres   ${config.database.url}`);
say(`S3         ${config.s3.endpoint}  bucket=${config.s3.bucket}`);
say(
  `events     ${relay ? `local S3 events -> ${api}/minio-event` : 'off (SLUICE_LOCAL_EVENTS=0 or external store)'}`,
);
say(`rescan     ${config.rescan.intervalS > 0 ? `every ${config.rescan.intervalS} s` : 'off'}`);
say(`dev token  ${devToken}`);
say(`status     ${api}/ui?token=${devToken}`);
say(`details in ${path.join(stateDir, 'stack.json')}; Ctrl-C stops everything`);

drainOnSignals(
  srv,
  async () => {
    if (rescanTimer) clearInterval(rescanTimer);
    relay?.stop();
    await stopStarted();
    say('stopped');
  },
  svc.log,
  config.drainTimeoutMs,
);
