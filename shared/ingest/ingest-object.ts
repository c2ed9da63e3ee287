import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import { mapInfrastructureError } from '../errors.ts';
import { ingestBytes, ingestRows, ingestSeconds } from '../metrics/registry.ts';
import { unquoteEtag } from '../object-store/etag.ts';
import { loadS3Sdk } from '../object-store/s3-sdk.ts';
import type { Services } from '../services.ts';
import { UnsupportedTypeError } from './h5-types.ts';
import { type IngestJob, jobsRepository } from './jobs-repository.ts';
import { PermanentIngestError } from './pipeline.ts';
import { IngestTimeoutError, type PipelineRun, runPipelineInWorker } from './pipeline-host.ts';
import { LeaseLostError, publish } from './publish.ts';

/** What became of one delivery. */
export type IngestStatus = 'done' | 'duplicate' | 'in_progress' | 'failed' | 'superseded';

export interface IngestOutcome {
  status: IngestStatus;
  job?: IngestJob;
  reason?: string;
  /** This call claimed the job and did the work (false: answered from the job's record). */
  claimed?: boolean;
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
  if (err instanceof TransientIngestError || err instanceof IngestTimeoutError) return true;
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

/** Downloads the object to a private temp file (streamed; never held in memory). */
async function download(
  services: Services,
  ref: ObjectRef,
  dir: string,
  signal: AbortSignal,
): Promise<{ file: string; etag?: string }> {
  const file = path.join(dir, 'object.h5');
  const { GetObjectCommand } = await loadS3Sdk();
  const out = await services.s3.internal.send(
    new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId }),
    { abortSignal: signal },
  );
  await pipe(out.Body as Readable, createWriteStream(file), { signal });
  return { file, etag: unquoteEtag(out.ETag) };
}

/**
 * Ingests one object version exactly once in effect: claims its job (or reports `duplicate` /
 * `in_progress`), downloads it, runs the pipeline and publishes the tables atomically. Permanent problems
 * (not HDF5, unsupported layout, a filter the library lacks, object gone) end as a `failed` job with
 * the reason; transient ones (database or object store unreachable, the attempt's deadline
 * `SLUICE_INGEST_TIMEOUT_S` passed) are recorded with a backoff and thrown as `TransientIngestError`.
 */
export async function ingestObject(
  services: Services,
  ref: ObjectRef,
  opts: { owner?: string } = {},
): Promise<IngestOutcome> {
  const owner = opts.owner ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const { leaseS, ingestTimeoutMs } = services.config.events;
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
  // The attempt's hard deadline: it aborts the download and terminates the HDF5 thread.
  const deadline = new AbortController();
  const timer = setTimeout(
    () =>
      deadline.abort(
        new IngestTimeoutError(
          `ingest did not finish within SLUICE_INGEST_TIMEOUT_S (${ingestTimeoutMs / 1000} s); stopped, will be retried`,
        ),
      ),
    ingestTimeoutMs,
  );
  let run: PipelineRun | undefined;
  let clean = false;
  try {
    let local: { file: string };
    try {
      local = await download(services, ref, dir, deadline.signal);
    } catch (err) {
      if (deadline.signal.aborted) throw deadline.signal.reason;
      if (isMissingObject(err))
        throw new PermanentIngestError('object no longer exists in the bucket');
      throw new TransientIngestError(`object store unavailable: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const bytes = (await stat(local.file)).size;
    run = await runPipelineInWorker({
      file: local.file,
      key: ref.key,
      rules: Object.entries(services.config.events.pipelines),
      signal: deadline.signal,
    });
    const { output } = run;
    const result = await publish(services.db, claimed, owner, output, bytes, {
      copyTimeoutMs: ingestTimeoutMs,
    });
    clean = true;
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
    return { status: result.superseded ? 'superseded' : 'done', job: done, claimed: true };
  } catch (caught) {
    if (caught instanceof LeaseLostError)
      return {
        status: 'in_progress',
        job: await repo.get(claimed.id),
        reason: caught.message,
        claimed: true,
      };
    // Past the deadline, whatever failed failed because the attempt was stopped.
    const err: unknown = deadline.signal.aborted ? deadline.signal.reason : caught;
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
    return {
      status: 'failed',
      job: await repo.get(claimed.id).catch(() => undefined),
      reason,
      claimed: true,
    };
  } finally {
    clearTimeout(timer);
    clearInterval(heartbeat);
    await run?.end(clean).catch(() => {});
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
