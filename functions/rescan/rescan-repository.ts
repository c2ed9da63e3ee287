import type { Db } from '../../shared/db/lazy-pool.ts';

/** A rescan run as recorded and returned by `POST /rescan`. */
export interface RescanRun {
  id: number;
  startedAt: string;
  finishedAt: string | null;
  status: string;
  trigger: string;
  bucket: string;
  prefix: string;
  dryRun: boolean;
  resumedFrom: unknown;
  checkpoint: unknown;
  fullPass: boolean;
  listed: number;
  missing: number;
  ingested: number;
  failed: number;
  retried: number;
  reclaimed: number;
  error: string | null;
}

const columns = `id, started_at AS "startedAt", finished_at AS "finishedAt", status, trigger, bucket, prefix,
  dry_run AS "dryRun", resumed_from AS "resumedFrom", checkpoint, full_pass AS "fullPass", listed, missing,
  ingested, failed, retried, reclaimed, error`;

/** SQL for `rescan_runs` and `rescan_checkpoints`, in one place. */
export function rescanRepository(db: Db) {
  return {
    async start(r: {
      bucket: string;
      prefix: string;
      dryRun: boolean;
      trigger: string;
      resumedFrom: unknown;
    }) {
      const res = await db.query<RescanRun>(
        `INSERT INTO rescan_runs (bucket, prefix, dry_run, trigger, resumed_from)
         VALUES ($1, $2, $3, $4, $5) RETURNING ${columns}`,
        [r.bucket, r.prefix, r.dryRun, r.trigger, JSON.stringify(r.resumedFrom)],
      );
      return res.rows[0] as RescanRun;
    },
    async finish(
      id: number,
      r: {
        status: string;
        counts: Record<
          'listed' | 'missing' | 'ingested' | 'failed' | 'retried' | 'reclaimed',
          number
        >;
        checkpoint: unknown;
        fullPass: boolean;
        error?: string;
      },
    ) {
      const c = r.counts;
      const res = await db.query<RescanRun>(
        `UPDATE rescan_runs SET finished_at = now(), status = $2, listed = $3, missing = $4, ingested = $5,
           failed = $6, retried = $7, reclaimed = $8, checkpoint = $9, full_pass = $10, error = $11
         WHERE id = $1 RETURNING ${columns}`,
        [
          id,
          r.status,
          c.listed,
          c.missing,
          c.ingested,
          c.failed,
          c.retried,
          c.reclaimed,
          JSON.stringify(r.checkpoint),
          r.fullPass,
          r.error ?? null,
        ],
      );
      return res.rows[0] as RescanRun;
    },
    /** Counts so far, while the run is going. */
    async progress(id: number, c: Record<'listed' | 'missing' | 'ingested' | 'failed', number>) {
      await db.query(
        `UPDATE rescan_runs SET listed = $2, missing = $3, ingested = $4, failed = $5 WHERE id = $1 AND status = 'running'`,
        [id, c.listed, c.missing, c.ingested, c.failed],
      );
    },
    async checkpoint(scope: string): Promise<unknown> {
      const res = await db.query<{ checkpoint: unknown }>(
        'SELECT checkpoint FROM rescan_checkpoints WHERE scope = $1',
        [scope],
      );
      return res.rows[0]?.checkpoint;
    },
    async saveCheckpoint(scope: string, checkpoint: unknown) {
      await db.query(
        `INSERT INTO rescan_checkpoints (scope, checkpoint) VALUES ($1, $2)
         ON CONFLICT (scope) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, updated_at = now()`,
        [scope, JSON.stringify(checkpoint)],
      );
    },
    async clearCheckpoint(scope: string) {
      await db.query('DELETE FROM rescan_checkpoints WHERE scope = $1', [scope]);
    },
    /** Objects listed by the last complete pass over this scope: the ETA estimate for the next. */
    async lastFullPassListed(bucket: string, prefix: string): Promise<number | undefined> {
      const res = await db.query<{ listed: number }>(
        `SELECT listed FROM rescan_runs WHERE bucket = $1 AND prefix = $2 AND full_pass AND resumed_from = 'null'::jsonb
         ORDER BY id DESC LIMIT 1`,
        [bucket, prefix],
      );
      return res.rows[0]?.listed;
    },
    async recent(limit = 20) {
      const res = await db.query<RescanRun>(
        `SELECT ${columns} FROM rescan_runs ORDER BY id DESC LIMIT $1`,
        [limit],
      );
      return res.rows;
    },
  };
}
