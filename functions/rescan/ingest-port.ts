import { ingestObject, TransientIngestError } from '../../shared/ingest/ingest-object.ts';
import { type IngestJob, jobsRepository } from '../../shared/ingest/jobs-repository.ts';
import type { Services } from '../../shared/services.ts';
import type { IngestPort, ListedObject } from './rescan-service.ts';

const listed = (j: IngestJob): ListedObject => ({ key: j.key, etag: j.etag, size: j.size ?? 0 });

/** The ingest service and jobs table, as the rescan sees them. */
export function createIngestPort(services: Services): IngestPort {
  const repo = jobsRepository(services.db);
  return {
    async unknown(bucket, objects) {
      const idx = await repo.unknown(bucket, objects);
      return idx.map((i) => objects[i] as ListedObject);
    },
    async ingest(bucket, o) {
      try {
        const outcome = await ingestObject(services, {
          bucket,
          key: o.key,
          etag: o.etag,
          size: o.size,
        });
        return { status: outcome.status };
      } catch (err) {
        // Recorded on the job with a backoff; the next run retries it.
        if (err instanceof TransientIngestError) return { status: 'failed' };
        throw err;
      }
    },
    async reclaimExpired(bucket) {
      await repo.reclaimExpired(bucket);
      // Requeued now or earlier (a rescan that stopped before reaching them): all queued jobs.
      const queued = await services.db.query<IngestJob>(
        `SELECT key, etag, size FROM ingest_jobs WHERE bucket = $1 AND status = 'queued' ORDER BY id LIMIT 1000`,
        [bucket],
      );
      return queued.rows.map(listed);
    },
    async dueRetries(bucket, limit) {
      return (await repo.dueRetries(bucket, limit)).map(listed);
    },
  };
}
