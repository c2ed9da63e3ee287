// npm run bench:rescan — a bare ListObjectsV2 pagination of a 20,000-object bucket against a dry-run
// rescan of the same bucket, and the database diff alone over a synthetic listing of 1,000,000 keys.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { createIngestPort } from '../../functions/rescan/ingest-port.ts';
import { runRescan } from '../../functions/rescan/rescan-service.ts';
import { freePort } from '../../infra/local/free-port.ts';
import { startLocalPostgres } from '../../infra/local/postgres.ts';
import { startLocalS3 } from '../../infra/local/s3-server.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { migrate } from '../../shared/db/migrate.ts';
import { jobsRepository } from '../../shared/ingest/jobs-repository.ts';
import { silentLogger } from '../../shared/log/logger.ts';
import { createServices } from '../../shared/services.ts';

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 20_000);
const SYNTHETIC = Number(process.env.BENCH_SYNTHETIC ?? 1_000_000);
const say = (s: string) => process.stdout.write(`${s}\n`);
const seconds = (t0: number) => (performance.now() - t0) / 1000;

const root = await mkdtemp(path.join(os.tmpdir(), 'sluice-bench-rescan-'));
const pgServer = await startLocalPostgres({ dir: path.join(root, 'pg'), port: await freePort() });
const s3 = await startLocalS3({ dir: path.join(root, 's3'), port: await freePort(), buckets: [] });
const bucket = 'bench';
const config = parseConfig({
  JWT_SECRET: 'bench',
  DATABASE_URL: pgServer.url(),
  MINIO_ENDPOINT: s3.endpoint,
  MINIO_ACCESS_KEY: s3.accessKey,
  MINIO_SECRET_KEY: s3.secretKey,
  MINIO_BUCKET: bucket,
  LOG_LEVEL: 'silent',
  // The bench's own setup loads 1,000,000 rows in one statement: longer than the 5 s default bound.
  SLUICE_PG_QUERY_TIMEOUT_S: '300',
});
const services = createServices(config, { log: silentLogger });
const client = services.s3.internal;
await client.send(new CreateBucketCommand({ Bucket: bucket }));
await migrate(services.db);

say(`filling the bucket with ${OBJECTS} small objects...`);
const keys = Array.from(
  { length: OBJECTS },
  (_, i) => `runs/${String(i % 50).padStart(2, '0')}/sample-${String(i).padStart(6, '0')}.h5`,
);
let next = 0;
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < keys.length) {
      const key = keys[next++] as string;
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    }
  }),
);

// Every object but 1% has a finished job, recorded with the ETag the listing will report.
const listed: { key: string; etag: string }[] = [];
let token: string | undefined;
do {
  const page = await client.send(
    new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token, MaxKeys: 1000 }),
  );
  for (const o of page.Contents ?? [])
    listed.push({ key: o.Key as string, etag: (o.ETag ?? '').replaceAll('"', '') });
  token = page.IsTruncated ? page.NextContinuationToken : undefined;
} while (token);
const done = listed.filter((_, i) => i % 100 !== 0);
await services.db.query(
  `INSERT INTO ingest_jobs (bucket, key, etag, status, attempts) SELECT $1, k, e, 'done', 1 FROM unnest($2::text[], $3::text[]) AS t(k, e)`,
  [bucket, done.map((d) => d.key), done.map((d) => d.etag)],
);

// (a) A bare ListObjectsV2 pagination.
const t0 = performance.now();
let count = 0;
token = undefined;
do {
  const page: ListObjectsV2CommandOutput = await client.send(
    new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token, MaxKeys: 1000 }),
  );
  count += page.Contents?.length ?? 0;
  token = page.IsTruncated ? page.NextContinuationToken : undefined;
} while (token);
const listS = seconds(t0);
say(`bare listing: ${count} objects in ${listS.toFixed(2)} s`);

// (b) A dry-run rescan of the same bucket.
const t1 = performance.now();
const result = await runRescan(
  {
    pool: services.db,
    s3: client,
    bucket,
    basePrefix: '',
    suffixes: config.events.suffixes,
    ingest: createIngestPort(services),
    log: silentLogger,
  },
  { dryRun: true },
);
const rescanS = seconds(t1);
if (result.run?.listed !== OBJECTS || result.run?.missing !== listed.length - done.length) {
  throw new Error(`rescan saw ${result.run?.listed} objects / ${result.run?.missing} missing`);
}
say(
  `dry-run rescan: listed ${result.run.listed}, missing ${result.run.missing} in ${rescanS.toFixed(2)} s`,
);

// (c) The diff alone over 1,000,000 synthetic keys (1% without a job), 1,000 keys per query.
say(`loading ${SYNTHETIC} synthetic job rows...`);
await services.db.query(
  `INSERT INTO ingest_jobs (bucket, key, etag, status, attempts)
   SELECT 'synthetic', 'k/' || lpad(g::text, 7, '0'), md5(g::text), 'done', 1 FROM generate_series(1, $1) g WHERE g % 100 <> 0`,
  [SYNTHETIC],
);
await services.db.query('ANALYZE ingest_jobs');
const repo = jobsRepository(services.db);
const t2 = performance.now();
let missing = 0;
const { createHash } = await import('node:crypto');
for (let start = 1; start <= SYNTHETIC; start += 1000) {
  const page = Array.from({ length: Math.min(1000, SYNTHETIC - start + 1) }, (_, i) => {
    const g = start + i;
    return {
      key: `k/${String(g).padStart(7, '0')}`,
      etag: createHash('md5').update(String(g)).digest('hex'),
    };
  });
  missing += (await repo.unknown('synthetic', page)).length;
}
const diffS = seconds(t2);
if (missing !== Math.floor(SYNTHETIC / 100)) throw new Error(`diff found ${missing} missing keys`);
say(`diff of ${SYNTHETIC} keys: ${missing} missing in ${diffS.toFixed(2)} s`);

const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
await services.close();
await s3.stop();
await pgServer.stop();
await rm(root, { recursive: true, force: true });
say(
  `targets: rescan_s <= 1.25 x list_s (${(1.25 * listS).toFixed(2)}); diff_1m_s <= 30; peak_rss_mb <= 300`,
);
say(
  `RESULT rescan objects=${OBJECTS} list_s=${listS.toFixed(2)} rescan_s=${rescanS.toFixed(2)} diff_1m_s=${diffS.toFixed(2)} peak_rss_mb=${peakRssMb}`,
);
