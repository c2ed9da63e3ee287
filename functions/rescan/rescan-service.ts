import type { Db } from '../../shared/db/lazy-pool.ts';
import type { Logger } from '../../shared/log/logger.ts';
import { rescanObjects } from '../../shared/metrics/registry.ts';
import { unquoteEtag } from '../../shared/object-store/etag.ts';
import { loadS3Sdk, type S3Sender } from '../../shared/object-store/s3-sdk.ts';
import { isJobStagingKey } from '../../shared/storage/job-staging.ts';
import { type RescanRun, rescanRepository } from './rescan-repository.ts';

/** An object as the listing sees it. */
export interface ListedObject {
  key: string;
  etag: string;
  size: number;
}

/** What the rescan needs from the ingest service (implemented in `ingest-port.ts`). */
export interface IngestPort {
  /** Of `objects`, those with no job at all for (bucket, key, etag): ONE query per page. */
  unknown(bucket: string, objects: ListedObject[]): Promise<ListedObject[]>;
  /** Ingests one object exactly as a webhook delivery would. */
  ingest(bucket: string, object: ListedObject): Promise<{ status: string }>;
  /** Requeues jobs whose lease expired (a crashed ingest) and returns them for re-ingest. */
  reclaimExpired(bucket: string): Promise<ListedObject[]>;
  /** Transiently failed jobs whose backoff has elapsed and that have attempts left. */
  dueRetries(bucket: string, limit: number): Promise<ListedObject[]>;
}

export interface RescanOptions {
  /** Sub-prefix below `MINIO_OBJECT_PREFIX` to scan. */
  prefix?: string;
  /** Report what would be ingested without ingesting or moving the checkpoint. */
  dryRun?: boolean;
  /** Time budget; the run stops cleanly before it and saves a checkpoint. */
  maxSeconds?: number;
  /** Concurrent ingests (default 2). */
  concurrency?: number;
  /** List first-level prefixes in parallel, this many at a time (0/1 = one sequential listing). */
  shards?: number;
  /** How the run was started, for the run record. */
  trigger?: string;
}

export interface RescanResult {
  status: 'completed' | 'partial' | 'failed' | 'already_running';
  run?: RescanRun;
  /** Dry runs: the objects that would be ingested (first 1,000). */
  wouldIngest?: string[];
}

export interface RescanDeps {
  pool: Db;
  s3: S3Sender;
  bucket: string;
  basePrefix: string;
  suffixes: string[];
  ingest: IngestPort;
  log: Logger;
  /** Seconds between progress lines (default 10). */
  progressEveryS?: number;
  /** Keys per listing page (default 1,000, the S3 maximum). */
  pageSize?: number;
}

/** Checkpoint per scope: where each listing resumes. `null` = that shard finished this pass. */
interface Checkpoint {
  shards: Record<string, string | null>;
}

const LOCK_KEY = 7_310_406;
const PAGE = 1000;

/** Runs at most `limit` of `fns` at once, stopping early when `shouldStop` says so. */
async function pool<T>(
  items: T[],
  limit: number,
  fn: (t: T) => Promise<void>,
  shouldStop: () => boolean,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !shouldStop()) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return next;
}

/**
 * The scheduled safety net: lists the bucket page by page, asks Postgres which objects have no job, ingests
 * those, retries transient failures and reclaims crashed ones. Single-flight via an advisory lock, bounded in
 * time with a resumable checkpoint, and flat in memory (one page per shard at a time).
 */
export async function runRescan(deps: RescanDeps, opts: RescanOptions = {}): Promise<RescanResult> {
  const { pool: db, bucket, log } = deps;
  const lockClient = await db.connect();
  let locked = false;
  try {
    locked =
      (await lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LOCK_KEY]))
        .rows[0]?.ok === true;
    if (!locked) return { status: 'already_running' };
    return await locked_run(deps, opts);
  } finally {
    if (locked) await lockClient.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
    lockClient.release();
  }

  async function locked_run(d: RescanDeps, o: RescanOptions): Promise<RescanResult> {
    const repo = rescanRepository(db);
    const started = Date.now();
    const budgetMs = o.maxSeconds ? o.maxSeconds * 1000 : Number.POSITIVE_INFINITY;
    const concurrency = Math.max(1, o.concurrency ?? 2);
    const prefix = d.basePrefix + (o.prefix ?? '');
    const scope = `${bucket}/${prefix}`;
    const dryRun = o.dryRun === true;
    const suffixes = d.suffixes;
    const matches = (key: string) =>
      !isJobStagingKey(d.basePrefix, key) &&
      (suffixes.length === 0 || suffixes.some((s) => key.toLowerCase().endsWith(s)));

    const saved = dryRun ? undefined : ((await repo.checkpoint(scope)) as Checkpoint | undefined);
    const estimate = await repo.lastFullPassListed(bucket, prefix);
    const run = await repo.start({
      bucket,
      prefix,
      dryRun,
      trigger: o.trigger ?? 'http',
      resumedFrom: saved ?? null,
    });
    const counts = { listed: 0, missing: 0, ingested: 0, failed: 0, retried: 0, reclaimed: 0 };
    const wouldIngest: string[] = [];
    // Stop starting new work once the remaining budget could not cover another page and its ingests.
    let slowestPageMs = 0;
    const outOfTime = () => Date.now() - started + Math.max(slowestPageMs, 250) >= budgetMs;

    let lastLog = Date.now();
    let lastSaved = Date.now();
    const progress = (force = false) => {
      // The run record follows along (every 2 s), so `sluice rescan` and /ui can show progress.
      if (Date.now() - lastSaved >= 2000) {
        lastSaved = Date.now();
        void repo.progress(run.id, counts).catch(() => {});
      }
      if (!force && Date.now() - lastLog < (d.progressEveryS ?? 10) * 1000) return;
      lastLog = Date.now();
      const rate = counts.listed / Math.max(0.001, (Date.now() - started) / 1000);
      const remaining = estimate ? Math.max(0, estimate - counts.listed) : undefined;
      log.info(
        {
          ...counts,
          ratePerS: Math.round(rate),
          etaS: remaining !== undefined && rate > 0 ? Math.round(remaining / rate) : undefined,
        },
        'rescan progress',
      );
    };

    /** Ingests `objects` with bounded concurrency; returns how many were handled (any outcome). */
    const ingestAll = async (objects: ListedObject[], retry: boolean): Promise<number> =>
      pool(
        objects,
        concurrency,
        async (obj) => {
          try {
            const r = await d.ingest.ingest(bucket, obj);
            if (r.status === 'done') counts.ingested++;
            else if (r.status === 'failed') counts.failed++;
            if (retry) counts.retried++;
          } catch (err) {
            counts.failed++;
            log.warn({ key: obj.key, err: (err as Error).message }, 'rescan ingest failed');
          }
        },
        outOfTime,
      );

    try {
      if (!dryRun) {
        // Only this run's scope: a rescan of one prefix leaves other prefixes' jobs to their own runs.
        const inScope = (o: ListedObject) => o.key.startsWith(prefix);
        const reclaimed = (await d.ingest.reclaimExpired(bucket)).filter(inScope);
        counts.reclaimed = reclaimed.length;
        await ingestAll(reclaimed, false);
        await ingestAll((await d.ingest.dueRetries(bucket, 1000)).filter(inScope), true);
      }

      // Shards: the first-level prefixes (plus the objects directly under `prefix`), or one listing.
      const shardNames = saved
        ? Object.keys(saved.shards)
        : await listShards(d.s3, bucket, prefix, o.shards ?? 0);
      const checkpoint: Checkpoint = {
        shards: saved?.shards ?? Object.fromEntries(shardNames.map((s) => [s, ''])),
      };

      const scanShard = async (shard: string) => {
        if (checkpoint.shards[shard] === null) return;
        // When sharding, the objects directly under `prefix` form their own shard, listed with a
        // delimiter and continuation tokens; it resumes from its start (it holds only loose files).
        const rootOnly = shard === prefix && shardNames.length > 1;
        const first: PageCursor = rootOnly ? {} : { startAfter: checkpoint.shards[shard] ?? '' };
        let page = fetchPage(d.s3, bucket, shard, first, rootOnly, d.pageSize ?? PAGE);
        for (;;) {
          if (outOfTime()) return;
          const t0 = Date.now();
          const { objects, next } = await page;
          // Prefetch the next page while this one is diffed and ingested.
          if (next) page = fetchPage(d.s3, bucket, shard, next, rootOnly, d.pageSize ?? PAGE);
          counts.listed += objects.length;
          const candidates = objects.filter((x) => matches(x.key));
          const unknown = candidates.length ? await d.ingest.unknown(bucket, candidates) : [];
          counts.missing += unknown.length;
          if (dryRun) {
            for (const u of unknown) if (wouldIngest.length < 1000) wouldIngest.push(u.key);
          } else {
            // Out of time mid-page: keep the page's start so the rest is found next run. Every
            // outcome counts as handled (in_progress, duplicate and superseded too).
            if ((await ingestAll(unknown, false)) < unknown.length) return;
          }
          slowestPageMs = Math.max(slowestPageMs, Date.now() - t0);
          if (!rootOnly || !next) checkpoint.shards[shard] = next ? (next.startAfter ?? '') : null;
          if (!dryRun) await repo.saveCheckpoint(scope, checkpoint);
          progress();
          if (!next) return;
        }
      };

      await pool(shardNames, Math.max(1, o.shards ?? 1), scanShard, () => false);
      const fullPass = Object.values(checkpoint.shards).every((v) => v === null);
      if (!dryRun) {
        if (fullPass) await repo.clearCheckpoint(scope);
        else await repo.saveCheckpoint(scope, checkpoint);
      }
      const status = fullPass ? 'completed' : 'partial';
      for (const kind of ['listed', 'missing', 'ingested', 'failed', 'reclaimed'] as const)
        rescanObjects.inc([kind], counts[kind]);
      progress(true);
      const finished = await repo.finish(run.id, {
        status,
        counts,
        checkpoint: fullPass ? null : checkpoint,
        fullPass,
      });
      return { status, run: finished, ...(dryRun ? { wouldIngest } : {}) };
    } catch (err) {
      const finished = await repo
        .finish(run.id, {
          status: 'failed',
          counts,
          checkpoint: null,
          fullPass: false,
          error: (err as Error).message,
        })
        .catch(() => undefined);
      log.error({ err: (err as Error).message }, 'rescan failed');
      return { status: 'failed', run: finished };
    }
  }
}

async function listShards(
  s3: S3Sender,
  bucket: string,
  prefix: string,
  shards: number,
): Promise<string[]> {
  if (shards <= 1) return [prefix];
  const names = [prefix];
  const { ListObjectsV2Command } = await loadS3Sdk();
  let token: string | undefined;
  do {
    const out = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        Delimiter: '/',
        ContinuationToken: token,
      }),
    );
    for (const p of out.CommonPrefixes ?? []) if (p.Prefix) names.push(p.Prefix);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return names;
}

interface PageCursor {
  startAfter?: string;
  token?: string;
}

async function fetchPage(
  s3: S3Sender,
  bucket: string,
  prefix: string,
  cursor: PageCursor,
  rootOnly: boolean,
  pageSize: number,
): Promise<{ objects: ListedObject[]; next?: PageCursor }> {
  const { ListObjectsV2Command } = await loadS3Sdk();
  const out = await s3.send(
    new ListObjectsV2Command({
      Bucket: bucket,
      Prefix: prefix,
      StartAfter: cursor.startAfter || undefined,
      ContinuationToken: cursor.token,
      MaxKeys: pageSize,
      Delimiter: rootOnly ? '/' : undefined,
    }),
  );
  const objects: ListedObject[] = [];
  for (const o of out.Contents ?? []) {
    if (o.Key) objects.push({ key: o.Key, etag: unquoteEtag(o.ETag ?? ''), size: o.Size ?? 0 });
  }
  if (!out.IsTruncated) return { objects };
  const last = objects.at(-1)?.key;
  if (rootOnly || !last) return { objects, next: { token: out.NextContinuationToken } };
  return { objects, next: { startAfter: last } };
}
