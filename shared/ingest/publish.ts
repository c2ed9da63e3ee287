import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Db } from '../db/lazy-pool.ts';
import { withTransaction } from '../db/transaction.ts';
import { COPY_BINARY_HEADER, COPY_BINARY_TRAILER } from './copy-binary.ts';
import { ident } from './copy-text.ts';
import type { IngestJob } from './jobs-repository.ts';
import { jobsRepository } from './jobs-repository.ts';
import type { OutputTable } from './pipeline.ts';
import { type NamedOutput, pipelineDef } from './pipelines.ts';
import { claimTableName, fitIdentifier } from './table-names.ts';

export interface PublishResult {
  tables: IngestJob['tables'];
  rows: number;
  superseded: boolean;
}

async function copyInto(client: pg.PoolClient, table: string, t: OutputTable, timeoutMs: number) {
  const format = t.binary ? ' (FORMAT binary)' : '';
  // COPY lasts as long as the file takes to read: its own bound instead of the pool's query timeout.
  const stream = client.query(
    Object.assign(copyFrom(`COPY ${ident(table)} FROM STDIN${format}`), {
      query_timeout: timeoutMs,
    }),
  );
  const done = finished(stream);
  // Surface a COPY error (bad value) at once instead of after the whole file is read.
  let failed: Error | undefined;
  done.catch((err: Error) => {
    failed = err;
  });
  const put = async (chunk: string | Buffer) => {
    if (failed) throw failed;
    if (chunk.length === 0) return;
    if (!stream.write(chunk)) await Promise.race([once(stream, 'drain'), done]);
  };
  try {
    if (t.binary) await put(COPY_BINARY_HEADER);
    await t.write(put);
    if (t.binary) await put(COPY_BINARY_TRAILER);
  } catch (err) {
    // The rows stopped coming (unreadable data, deadline): end the COPY with CopyFail, or the
    // connection stays in COPY mode and the ROLLBACK after it waits forever.
    stream.destroy(err as Error);
    throw err;
  }
  stream.end();
  await done;
}

/** Bounds of one publish. */
export interface PublishLimits {
  /** How long the COPY of one table may take (the attempt's deadline); default 10 minutes. */
  copyTimeoutMs?: number;
}

/**
 * Publishes a pipeline's tables atomically: each is loaded into a staging table inside ONE transaction
 * and renamed over `job_<stem>...` at the end, together with the catalog rows and the job's `done`
 * status. A crash anywhere before COMMIT leaves nothing visible; readers see the old tables or the new.
 * If the job's lease was lost meanwhile, everything rolls back.
 */
export async function publish(
  pool: Db,
  job: IngestJob,
  owner: string,
  output: NamedOutput,
  bytes: number,
  limits: PublishLimits = {},
): Promise<PublishResult> {
  const copyTimeoutMs = limits.copyTimeoutMs ?? 600_000;
  return withTransaction(pool, async (client) => {
    await client.query(`SET LOCAL statement_timeout = ${Math.ceil(copyTimeoutMs)}`);
    // One publisher per object key at a time; a newer version that already published wins.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${job.bucket}/${job.key}`]);
    const newer = await client.query(
      `SELECT 1 FROM ingest_jobs WHERE bucket = $1 AND key = $2 AND id > $3 AND status = 'done' LIMIT 1`,
      [job.bucket, job.key, job.id],
    );
    const superseded = (newer.rowCount ?? 0) > 0;
    const tables: IngestJob['tables'] = [];
    let rows = 0;
    if (!superseded) {
      // A job taken again (its object deleted and uploaded again with the same content) publishes
      // from scratch: its earlier catalog rows are replaced, not collided with.
      await client.query('DELETE FROM ingest_catalog WHERE job_id = $1', [job.id]);
      for (const [i, t] of output.tables.entries()) {
        const name = await claimTableName(client, {
          bucket: job.bucket,
          key: job.key,
          datasetPath: t.datasetPath,
        });
        const staging = fitIdentifier(`_sluice_stg_${job.id}_${i}`);
        const cols = t.columns.map((c) => `${ident(c.name)} ${c.pgType}`).join(', ');
        await client.query(`CREATE TABLE ${ident(staging)} (${cols})`);
        await copyInto(client, staging, t, copyTimeoutMs);
        await client.query(`DROP TABLE IF EXISTS ${ident(name)}`);
        await client.query(`ALTER TABLE ${ident(staging)} RENAME TO ${ident(name)}`);
        const sourcePath = t.sourcePath ?? (t.datasetPath || '/');
        await client.query(
          `INSERT INTO ingest_catalog (job_id, dataset_path, table_name, rows, columns, skipped)
         VALUES ($1, $2, $3, $4, $5, $6)`,
          [
            job.id,
            sourcePath,
            name,
            t.rows,
            JSON.stringify(t.columns),
            JSON.stringify(i === 0 ? output.skipped : []),
          ],
        );
        tables.push({ table: name, datasetPath: sourcePath, rows: t.rows });
        rows += t.rows;
      }
      await pipelineDef(output.pipeline).afterPublish?.(client, job, output, tables);
    }
    const ok = await jobsRepository(client).finish(job.id, owner, {
      pipeline: output.pipeline,
      tables,
      rows,
      bytes,
    });
    if (!ok) throw new LeaseLostError(`job ${job.id} lease was lost before publishing`);
    return { tables, rows, superseded };
  });
}

/** The job was taken over by another attempt (its lease expired); this attempt must not publish. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}
