import type pg from 'pg';
import type { Db } from '../db/lazy-pool.ts';
import type { IngestJob } from './jobs-repository.ts';
import type { PipelineOutput, ProfileSummary } from './pipeline.ts';

/** A `job_summaries` row as the API returns it (a profile figure for one step or one node). */
export interface JobSummaryRow extends ProfileSummary {
  table: string;
  jobId: number | null;
  updatedAt: string;
}

const summaryColumns = `table_name AS "table", job_id AS "jobId", scope, step, node, nodes,
  energy_to_solution_j AS "energyJ", time_to_solution_s AS "timeS", average_power_w AS "averagePowerW",
  peak_power_w AS "peakPowerW", peak_power_time_s AS "peakPowerTimeS",
  energy_delay_product AS "energyDelayProduct", energy_reason AS "energyReason", rows::float8 AS rows,
  updated_at AS "updatedAt"`;

/** SQL for `job_summaries`, in one place. */
export function jobSummariesRepository(db: Db | pg.PoolClient) {
  return {
    /** Replaces every summary of `table` (inside the publisher's transaction). */
    async replace(table: string, job: IngestJob, summaries: ProfileSummary[]): Promise<void> {
      await db.query('DELETE FROM job_summaries WHERE table_name = $1', [table]);
      for (const s of summaries) {
        await db.query(
          `INSERT INTO job_summaries (table_name, job_id, bucket, key, scope, step, node, nodes,
             energy_to_solution_j, time_to_solution_s, average_power_w, peak_power_w, peak_power_time_s,
             energy_delay_product, energy_reason, rows, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, now())`,
          [
            table,
            job.id,
            job.bucket,
            job.key,
            s.scope,
            s.step,
            s.node,
            s.nodes,
            s.energyJ,
            s.timeS,
            s.averagePowerW,
            s.peakPowerW,
            s.peakPowerTimeS,
            s.energyDelayProduct,
            s.energyReason,
            s.rows,
          ],
        );
      }
    },

    /** Summaries an ingest job wrote: per step its 'job' row first, then its nodes. */
    async forJob(jobId: number): Promise<JobSummaryRow[]> {
      const r = await db.query<JobSummaryRow>(
        `SELECT ${summaryColumns} FROM job_summaries WHERE job_id = $1
         ORDER BY table_name, step NULLS FIRST, scope, node`,
        [jobId],
      );
      return r.rows;
    },
  };
}

/** The profile pipeline's `afterPublish`: its summaries, keyed by the job's first (only) table. */
export async function saveProfileSummaries(
  client: pg.PoolClient,
  job: IngestJob,
  output: PipelineOutput,
  tables: IngestJob['tables'],
): Promise<void> {
  if (output.summaries && tables[0])
    await jobSummariesRepository(client).replace(tables[0].table, job, output.summaries);
}
