import type pg from 'pg';
import type { Db } from '../db/lazy-pool.ts';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'source_deleted';

/** An ingest job as stored and as the API returns it. */
export interface IngestJob {
  id: number;
  bucket: string;
  key: string;
  etag: string;
  versionId: string | null;
  size: number | null;
  status: JobStatus;
  failureKind: 'transient' | 'permanent' | null;
  attempts: number;
  nextAttemptAt: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
  pipeline: string | null;
  tables: { table: string; datasetPath: string; rows: number }[];
  rows: number | null;
  bytes: number | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

export const jobColumns = `id, bucket, key, etag, version_id AS "versionId", size, status,
  failure_kind AS "failureKind", attempts, next_attempt_at AS "nextAttemptAt", lease_owner AS "leaseOwner",
  lease_expires_at AS "leaseExpiresAt", pipeline, tables, rows, bytes, error, created_at AS "createdAt",
  updated_at AS "updatedAt", started_at AS "startedAt", finished_at AS "finishedAt", duration_ms AS "durationMs"`;

/** Attempts after which the rescan stops retrying a transient failure. */
export const MAX_ATTEMPTS = 5;

/** SQL for `ingest_jobs`, in one place. */
export function jobsRepository(db: Db | pg.PoolClient) {
  return {
    /**
     * Claims the job for (bucket, key, etag): creates it running, or takes it over when it is queued,
     * failed transiently, deleted, or running with an expired lease. Returns undefined when someone else
     * holds it or it is finished (the caller then reads it to say why).
     */
    async claim(
      ref: { bucket: string; key: string; etag: string; versionId?: string; size?: number },
      owner: string,
      leaseS: number,
      retryPermanent = false,
    ) {
      const res = await db.query<IngestJob>(
        `INSERT INTO ingest_jobs (bucket, key, etag, version_id, size, status, attempts, lease_owner, lease_expires_at, started_at)
         VALUES ($1, $2, $3, $4, $5, 'running', 1, $6, now() + make_interval(secs => $7), now())
         ON CONFLICT (bucket, key, etag) DO UPDATE SET
           status = 'running', attempts = ingest_jobs.attempts + 1, lease_owner = EXCLUDED.lease_owner,
           lease_expires_at = EXCLUDED.lease_expires_at, started_at = now(), updated_at = now(),
           error = NULL, failure_kind = NULL, next_attempt_at = NULL, size = COALESCE(EXCLUDED.size, ingest_jobs.size)
         WHERE ingest_jobs.status IN ('queued', 'source_deleted')
            OR (ingest_jobs.status = 'failed' AND (ingest_jobs.failure_kind IS DISTINCT FROM 'permanent' OR $8))
            OR (ingest_jobs.status = 'running' AND ingest_jobs.lease_expires_at < now())
         RETURNING ${jobColumns}`,
        [
          ref.bucket,
          ref.key,
          ref.etag,
          ref.versionId ?? null,
          ref.size ?? null,
          owner,
          leaseS,
          retryPermanent,
        ],
      );
      return res.rows[0];
    },
    async find(bucket: string, key: string, etag: string) {
      const res = await db.query<IngestJob>(
        `SELECT ${jobColumns} FROM ingest_jobs WHERE bucket = $1 AND key = $2 AND etag = $3`,
        [bucket, key, etag],
      );
      return res.rows[0];
    },
    async get(id: number) {
      const res = await db.query<IngestJob>(`SELECT ${jobColumns} FROM ingest_jobs WHERE id = $1`, [
        id,
      ]);
      return res.rows[0];
    },
    /** Extends the lease while the holder is still working. */
    async heartbeat(id: number, owner: string, leaseS: number) {
      await db.query(
        `UPDATE ingest_jobs SET lease_expires_at = now() + make_interval(secs => $3), updated_at = now()
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
        [id, owner, leaseS],
      );
    },
    /** Marks the job done; false when the lease was lost (then the caller must roll back). */
    async finish(
      id: number,
      owner: string,
      r: { pipeline: string; tables: IngestJob['tables']; rows: number; bytes: number },
    ) {
      const res = await db.query(
        `UPDATE ingest_jobs SET status = 'done', pipeline = $3, tables = $4, rows = $5, bytes = $6,
           finished_at = now(), updated_at = now(), lease_owner = NULL, lease_expires_at = NULL,
           duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
        [id, owner, r.pipeline, JSON.stringify(r.tables), r.rows, r.bytes],
      );
      return res.rowCount === 1;
    },
    /** Records a failure. Transient ones get an exponential backoff for the rescan to honour. */
    async fail(id: number, owner: string, kind: 'transient' | 'permanent', error: string) {
      await db.query(
        `UPDATE ingest_jobs SET status = 'failed', failure_kind = $3, error = $4, finished_at = now(), updated_at = now(),
           lease_owner = NULL, lease_expires_at = NULL,
           duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int,
           next_attempt_at = CASE WHEN $3 = 'transient' AND attempts < ${MAX_ATTEMPTS}
             THEN now() + make_interval(secs => least(3600, 30 * power(2, attempts - 1))) END
         WHERE id = $1 AND lease_owner = $2`,
        [id, owner, kind, error.slice(0, 2000)],
      );
    },
    /** Delete events: every job of the key is marked `source_deleted`; returns the tables they wrote. */
    async markDeleted(bucket: string, key: string) {
      const res = await db.query<{ tables: IngestJob['tables'] }>(
        `UPDATE ingest_jobs SET status = 'source_deleted', updated_at = now()
         WHERE bucket = $1 AND key = $2 AND status <> 'running' RETURNING tables`,
        [bucket, key],
      );
      return res.rows.flatMap((r) => r.tables);
    },
    /** Of the listed objects, those with no job at all for their (key, etag): one query. */
    async unknown(bucket: string, objects: { key: string; etag: string }[]) {
      const res = await db.query<{ i: number }>(
        `SELECT o.i FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS o(key, etag, i)
         WHERE NOT EXISTS (SELECT 1 FROM ingest_jobs j WHERE j.bucket = $1 AND j.key = o.key AND j.etag = o.etag)`,
        [bucket, objects.map((o) => o.key), objects.map((o) => o.etag)],
      );
      return res.rows.map((r) => Number(r.i) - 1);
    },
    /** Running jobs whose lease expired: their holder crashed. Requeued and returned. */
    async reclaimExpired(bucket: string) {
      const res = await db.query<IngestJob>(
        `UPDATE ingest_jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),
           error = 'lease expired: the previous attempt stopped without finishing'
         WHERE bucket = $1 AND status = 'running' AND lease_expires_at < now() RETURNING ${jobColumns}`,
        [bucket],
      );
      return res.rows;
    },
    /** Transient failures whose backoff elapsed and that have attempts left. */
    async dueRetries(bucket: string, limit: number) {
      const res = await db.query<IngestJob>(
        `SELECT ${jobColumns} FROM ingest_jobs
         WHERE bucket = $1 AND status = 'failed' AND failure_kind = 'transient' AND attempts < ${MAX_ATTEMPTS}
           AND next_attempt_at <= now()
         ORDER BY next_attempt_at LIMIT $2`,
        [bucket, limit],
      );
      return res.rows;
    },
    /** Paged listing for the API, newest first; `keyPrefix` limits users to their own folder. */
    async list(q: {
      bucket: string;
      keyPrefix?: string;
      key?: string;
      status?: string;
      beforeId?: number;
      limit: number;
    }) {
      const res = await db.query<IngestJob>(
        `SELECT ${jobColumns} FROM ingest_jobs
         WHERE bucket = $1 AND ($2::text IS NULL OR starts_with(key, $2)) AND ($3::text IS NULL OR key = $3)
           AND ($4::text IS NULL OR status = $4) AND ($5::bigint IS NULL OR id < $5)
         ORDER BY id DESC LIMIT $6`,
        [
          q.bucket,
          q.keyPrefix ?? null,
          q.key ?? null,
          q.status ?? null,
          q.beforeId ?? null,
          q.limit,
        ],
      );
      return res.rows;
    },
  };
}
