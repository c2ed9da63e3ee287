import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import { mapInfrastructureError } from '../errors.ts';
import { ingestBytes, ingestRows, ingestSeconds } from '../metrics/registry.ts';
import { loadS3Sdk } from '../object-store/s3-sdk.ts';
import type { Services } from '../services.ts';
import { openH5, retireH5 } from './h5-file.ts';
import { UnsupportedTypeError } from './h5-types.ts';
import { type IngestJob, jobsRepository } from './jobs-repository.ts';
import { PermanentIngestError, type PipelineOutput } from './pipeline.ts';
import { looksLikeProfile, profilePipeline } from './profile-pipeline.ts';
import { LeaseLostError, publish } from './publish.ts';
import { tablesPipeline } from './tables-pipeline.ts';

/** What became of one delivery. */
export type IngestStatus = 'done' | 'duplicate' | 'in_progress' | 'failed' | 'superseded';

export interface IngestOutcome {
  status: IngestStatus;
  job?: IngestJob;
  reason?: string;
}

/** The object store or the database could not be reached: the caller answers 503 so the sender retries. */
export class TransientIngestError extends Error {
  override name = 'TransientIngestError';
}

export interface ObjectRef {
  bucket: string;
  key: string;
  /** ETag (or versionId on versioned buckets): which content this is. */
  etag: string;
  versionId?: string;
  size?: number;
}

function isTransient(err: unknown): boolean {
  if (err instanceof TransientIngestError) return true;
  const mapped = mapInfrastructureError(err);
  if (mapped && mapped.status === 503) return true;
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  if (e?.$metadata?.httpStatusCode && e.$metadata.httpStatusCode >= 500) return true;
  return ['TimeoutError', 'AbortError', 'NetworkingError'].includes(e?.name ?? '');
}

function isMissingObject(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/** Chooses the pipeline: configured per key prefix, else a profile when the file looks like one. */
function choosePipeline(
  services: Services,
  key: string,
  looksProfile: () => boolean,
): 'tables' | 'profile' {
  const rules = Object.entries(services.config.events.pipelines).sort(
    (a, b) => b[0].length - a[0].length,
  );
  for (const [prefix, name] of rules) if (key.startsWith(prefix)) return name;
  return looksProfile() ? 'profile' : 'tables';
}

/** Downloads the object to a private temp file (streamed; never held in memory). */
async function download(
  services: Services,
  ref: ObjectRef,
  dir: string,
): Promise<{ file: string; etag?: string }> {
  const file = path.join(dir, 'object.h5');
  const { GetObjectCommand } = await loadS3Sdk();
  const out = await services.s3.internal.send(
    new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId }),
  );
  await pipe(out.Body as Readable, createWriteStream(file));
  return { file, etag: out.ETag?.replaceAll('"', '') };
}

/**
 * Ingests one object version exactly once in effect: claims its job (or reports `duplicate` /
 * `in_progress`), downloads it, runs the pipeline and publishes the tables atomically. Permanent problems
 * (not HDF5, unsupported layout, object gone) end as a `failed` job with the reason; transient ones
 * (database or object store unreachable) are recorded and thrown as `TransientIngestError`.
 */
export async function ingestObject(
  services: Services,
  ref: ObjectRef,
  opts: { owner?: string } = {},
): Promise<IngestOutcome> {
  const owner = opts.owner ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const leaseS = services.config.events.leaseS;
  const repo = jobsRepository(services.db);
  let job: IngestJob | undefined;
  try {
    job = await repo.claim(ref, owner, leaseS);
  } catch (err) {
    throw new TransientIngestError(`database unavailable: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!job) {
    const existing = await repo.find(ref.bucket, ref.key, ref.etag);
    if (existing?.status === 'done') return { status: 'duplicate', job: existing };
    if (existing?.status === 'failed')
      return { status: 'failed', job: existing, reason: existing.error ?? undefined };
    return { status: 'in_progress', job: existing };
  }
  const claimed = job;
  const log = services.log.child({ jobId: claimed.id, key: ref.key });
  const heartbeat = setInterval(
    () => {
      repo.heartbeat(claimed.id, owner, leaseS).catch(() => {});
    },
    Math.max(1000, (leaseS * 1000) / 3),
  );
  heartbeat.unref();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-ingest-'));
  const started = performance.now();
  try {
    let local: { file: string };
    try {
      local = await download(services, ref, dir);
    } catch (err) {
      if (isMissingObject(err))
        throw new PermanentIngestError('object no longer exists in the bucket');
      throw new TransientIngestError(`object store unavailable: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const bytes = (await stat(local.file)).size;
    let output: PipelineOutput;
    const { file, h5 } = await openH5(local.file).catch((err: Error) => {
      throw new PermanentIngestError(err.message);
    });
    try {
      const chosen = choosePipeline(services, ref.key, () => looksLikeProfile(file));
      output = chosen === 'profile' ? profilePipeline(h5, file) : tablesPipeline(h5, file);
      const result = await publish(services.db, claimed, owner, output, bytes);
      const done = await repo.get(claimed.id);
      ingestRows.inc([output.pipeline], result.rows);
      ingestBytes.inc([], bytes);
      ingestSeconds.observe(['done'], (performance.now() - started) / 1000);
      log.info(
        {
          rows: result.rows,
          tables: result.tables.length,
          ms: Math.round(performance.now() - started),
        },
        'ingest done',
      );
      return { status: result.superseded ? 'superseded' : 'done', job: done };
    } catch (err) {
      // The library failed on this file (not the database): later files get a fresh instance.
      if (!isTransient(err) && !(err instanceof LeaseLostError)) retireH5(h5);
      throw err;
    } finally {
      try {
        file.close();
      } catch {
        // A file the library could not fully read may refuse to close; its instance is retired anyway.
      }
    }
  } catch (err) {
    if (err instanceof LeaseLostError)
      return { status: 'in_progress', job: await repo.get(claimed.id), reason: err.message };
    const transient =
      !(err instanceof PermanentIngestError || err instanceof UnsupportedTypeError) &&
      isTransient(err);
    const reason = transient ? (err as Error).message : permanentReason(err);
    log.warn({ transient, reason }, 'ingest failed');
    try {
      await repo.fail(claimed.id, owner, transient ? 'transient' : 'permanent', reason);
    } catch {
      // The database itself is down: the lease will expire and the job is retried.
    }
    if (transient)
      throw err instanceof TransientIngestError
        ? err
        : new TransientIngestError(reason, { cause: err });
    return { status: 'failed', job: await repo.get(claimed.id).catch(() => undefined), reason };
  } finally {
    clearInterval(heartbeat);
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

function permanentReason(err: unknown): string {
  const e = err as { message?: string; code?: string };
  if (e?.code && /^[0-9A-Z]{5}$/.test(e.code))
    return `database rejected the data (${e.code}): ${e.message}`;
  if (err instanceof PermanentIngestError || err instanceof UnsupportedTypeError) {
    return e.message as string;
  }
  // Anything else came out of the HDF5 library: a damaged or truncated file.
  return `HDF5 read failed (damaged or truncated file?): ${e?.message || String(err)}`;
}
