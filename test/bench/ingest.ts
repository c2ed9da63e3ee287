// npm run bench:ingest — Sluice end to end (event POST -> table committed, file fetched from the local S3
// server) against `psql \copy` of the same data as CSV and against 1,000-row multi-row INSERTs.
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import {
  CreateBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { freePort } from '../../infra/local/free-port.ts';
import { startLocalPostgres } from '../../infra/local/postgres.ts';
import { startLocalS3 } from '../../infra/local/s3-server.ts';
import { migrate } from '../../shared/db/migrate.ts';
import { minioBody } from '../helpers/events.ts';
import { runPython } from '../helpers/h5py.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 2_000_000);
const say = (s: string) => process.stdout.write(`${s}\n`);
const seconds = (t0: number) => (performance.now() - t0) / 1000;

const root = await mkdtemp(path.join(os.tmpdir(), 'sluice-bench-ingest-'));
const h5 = path.join(root, 'bench.h5');
const csv = path.join(root, 'bench.csv');
say(`generating ${ROWS} rows x 8 columns (HDF5 compound + CSV) with h5py/numpy...`);
runPython(
  `
import h5py, sys, numpy as np
n = int(sys.argv[3])
rng = np.random.default_rng(42)
dt = np.dtype([('t', '<i8'), ('a', '<f8'), ('b', '<f8'), ('c', '<f8'), ('d', '<f8'), ('e', '<i4'), ('f', '<f4'), ('g', '<f8')])
data = np.zeros(n, dtype=dt)
data['t'] = np.arange(n)
for name in ('a', 'b', 'c', 'd', 'g'):
    data[name] = rng.standard_normal(n)
data['e'] = rng.integers(0, 1000, n)
data['f'] = rng.standard_normal(n).astype('<f4')
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('samples', data=data, chunks=(65536,))
cols = [data[c] for c in dt.names]
np.savetxt(sys.argv[2], np.column_stack([c.astype('<f8') for c in cols]), delimiter=',', fmt=['%d', '%.17g', '%.17g', '%.17g', '%.17g', '%d', '%.9g', '%.17g'])
`,
  [h5, csv, String(ROWS)],
);

const pgServer = await startLocalPostgres({ dir: path.join(root, 'pg'), port: await freePort() });
const s3 = await startLocalS3({ dir: path.join(root, 's3'), port: await freePort(), buckets: [] });
const bucket = 'bench';
const client = new S3Client({
  endpoint: s3.endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
});
await client.send(new CreateBucketCommand({ Bucket: bucket }));
const pool = new pg.Pool({ connectionString: pgServer.url() });
await migrate(pool);

const columnsSql =
  't bigint, a double precision, b double precision, c double precision, d double precision, e integer, f real, g double precision';

// (a) Sluice end to end in its own process.
const key = 'lab/bench.h5';
await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(h5) }));
const etag = (
  (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag ?? ''
).replaceAll('"', '');
const child = spawn(process.execPath, ['--import', 'tsx', 'test/bench/ingest-server.ts'], {
  env: {
    ...process.env,
    JWT_SECRET: 'bench',
    DATABASE_URL: pgServer.url(),
    MINIO_ENDPOINT: s3.endpoint,
    MINIO_ACCESS_KEY: s3.accessKey,
    MINIO_SECRET_KEY: s3.secretKey,
    MINIO_BUCKET: bucket,
    SLUICE_WEBHOOK_TOKEN: 'bench-token',
    LOG_LEVEL: 'silent',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const first = await new Promise<string>((resolve) =>
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve),
);
const { port } = JSON.parse(first) as { port: number };
const t0 = performance.now();
const res = await fetch(`http://127.0.0.1:${port}/minio-event`, {
  method: 'POST',
  headers: { authorization: 'Bearer bench-token', 'content-type': 'application/json' },
  body: JSON.stringify(minioBody(bucket, key, etag)),
});
const body = (await res.json()) as { results: { status: string; rows: number }[] };
const sluiceS = seconds(t0);
const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
const peakRssMb = Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
child.kill('SIGTERM');
if (body.results[0]?.status !== 'done' || body.results[0]?.rows !== ROWS)
  throw new Error(`ingest did not complete: ${JSON.stringify(body)}`);
const counted = (await pool.query('SELECT count(*)::int AS n FROM job_bench')).rows[0].n;
if (counted !== ROWS) throw new Error(`job_bench has ${counted} rows, expected ${ROWS}`);
say(`sluice end to end: ${sluiceS.toFixed(2)} s, peak RSS ${peakRssMb} MB`);

// (b) psql \copy of the CSV (the practical limit); COPY FROM STDIN via pg-copy-streams when psql is absent.
await pool.query(`CREATE TABLE copy_target (${columnsSql})`);
let psqlS: number;
const psql = ['/usr/bin/psql', '/usr/local/bin/psql'].find((p) => existsSync(p));
if (psql) {
  const t1 = performance.now();
  const r = spawnSync(
    psql,
    [
      pgServer.url(),
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      `\\copy copy_target FROM '${csv}' WITH (FORMAT csv)`,
    ],
    { encoding: 'utf8' },
  );
  psqlS = seconds(t1);
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  say(`psql \\copy: ${psqlS.toFixed(2)} s`);
} else {
  const c = await pool.connect();
  const t1 = performance.now();
  await pipeline(
    createReadStream(csv),
    c.query(copyFrom('COPY copy_target FROM STDIN WITH (FORMAT csv)')),
  );
  psqlS = seconds(t1);
  c.release();
  say(`COPY FROM STDIN of the CSV (psql not installed): ${psqlS.toFixed(2)} s`);
}

// (c) What a naive pipeline does: multi-row INSERTs of 1,000 rows.
await pool.query(`CREATE TABLE insert_target (${columnsSql})`);
const t2 = performance.now();
const ins = await pool.connect();
let batch: string[][] = [];
const flush = async () => {
  if (batch.length === 0) return;
  const params: string[] = [];
  const tuples = batch.map((row) => `(${row.map((v) => `$${params.push(v)}`).join(',')})`);
  await ins.query(`INSERT INTO insert_target VALUES ${tuples.join(',')}`, params);
  batch = [];
};
for await (const line of createInterface({ input: createReadStream(csv) })) {
  batch.push(line.split(','));
  if (batch.length === 1000) await flush();
}
await flush();
ins.release();
const insertS = seconds(t2);
say(`1,000-row INSERTs: ${insertS.toFixed(2)} s`);

await pool.end();
await s3.stop();
await pgServer.stop();
await rm(root, { recursive: true, force: true });
say(
  `targets: sluice_s <= 1.5 x psql_copy_s (${(1.5 * psqlS).toFixed(2)}), <= insert_s / 5 (${(insertS / 5).toFixed(2)}), peak_rss_mb <= 400`,
);
say(
  `RESULT ingest rows=${ROWS} sluice_s=${sluiceS.toFixed(2)} psql_copy_s=${psqlS.toFixed(2)} insert_s=${insertS.toFixed(2)} peak_rss_mb=${peakRssMb}`,
);
