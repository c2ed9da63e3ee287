import { ERRORS } from '../../shared/errors.ts';
import { ident } from '../../shared/ingest/copy-text.ts';
import {
  type IngestOutcome,
  ingestObject,
  TransientIngestError,
} from '../../shared/ingest/ingest-object.ts';
import { jobsRepository } from '../../shared/ingest/jobs-repository.ts';
import { normaliseEvent, type ObjectEvent } from '../../shared/ingest/normalise-event.ts';
import { ingestOutcomes } from '../../shared/metrics/registry.ts';
import type { Services } from '../../shared/services.ts';
import { isJobStagingKey } from '../../shared/storage/job-staging.ts';

/** What the webhook answers for one object event. */
export interface EventResult {
  key: string;
  bucket: string;
  type: ObjectEvent['type'];
  status: IngestOutcome['status'] | 'ignored' | 'source_deleted';
  jobId?: number;
  tables?: string[];
  rows?: number | null;
  reason?: string;
}

/** A result and whether this delivery did ingest work for it (claimed the job), for the cap. */
export interface HandledEvent {
  result: EventResult;
  worked: boolean;
}

/** Counts ingests running in this process, for the overload answer (429). */
export function createIngestGate(max: number) {
  let running = 0;
  return {
    tryEnter(): boolean {
      if (running >= max) return false;
      running++;
      return true;
    },
    leave() {
      running = Math.max(0, running - 1);
    },
    get running() {
      return running;
    },
  };
}

/**
 * Why a key is not canonical, or undefined: `.` and `..` segments, empty segments (`a//b`, a leading
 * or trailing `/`), backslashes and control characters. Such keys name another place than they seem
 * to (`alice/../../etc/passwd.h5`) and are never claimed or fetched.
 */
export function nonCanonicalKeyReason(key: string): string | undefined {
  if (key === '') return 'key is empty';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'key has a control character';
  if (key.includes('\\')) return 'key has a backslash';
  for (const segment of key.split('/')) {
    if (segment === '..') return "key has a '..' segment";
    if (segment === '.') return "key has a '.' segment";
    if (segment === '') return 'key has an empty segment (leading, trailing or doubled /)';
  }
  return undefined;
}

/** Why an event is not ours (bucket, prefix, suffix, non-canonical key), or undefined to process it. */
export function filterReason(services: Services, e: ObjectEvent): string | undefined {
  const odd = nonCanonicalKeyReason(e.key);
  if (odd) return odd;
  const { s3, events } = services.config;
  if (e.bucket !== s3.bucket) return `bucket '${e.bucket}' is not '${s3.bucket}'`;
  if (!e.key.startsWith(s3.prefix)) return `key is outside prefix '${s3.prefix}'`;
  if (isJobStagingKey(s3.prefix, e.key)) return 'job staging object (not ingested)';
  if (e.type === 'created' && !events.suffixes.some((s) => e.key.toLowerCase().endsWith(s))) {
    return `suffix not in ${events.suffixes.join(',')}`;
  }
  return undefined;
}

/** Handles one object event: ingest on create, `source_deleted` (and optional drop) on delete. */
export async function handleObjectEvent(services: Services, e: ObjectEvent): Promise<HandledEvent> {
  const base = { key: e.key, bucket: e.bucket, type: e.type };
  const ignored = filterReason(services, e);
  if (ignored) return { result: { ...base, status: 'ignored', reason: ignored }, worked: false };
  if (e.type === 'removed') {
    const tables = await jobsRepository(services.db).markDeleted(e.bucket, e.key);
    if (services.config.events.dropOnDelete) {
      for (const t of tables) await services.db.query(`DROP TABLE IF EXISTS ${ident(t.table)}`);
    }
    const result = {
      ...base,
      status: 'source_deleted' as const,
      tables: tables.map((t) => t.table),
    };
    return { result, worked: false };
  }
  const etag = e.versionId ?? e.etag;
  if (!etag)
    return {
      result: { ...base, status: 'ignored', reason: 'event has no eTag or versionId' },
      worked: false,
    };
  const outcome = await ingestObject(services, {
    bucket: e.bucket,
    key: e.key,
    etag,
    versionId: e.versionId,
    size: e.size,
  });
  ingestOutcomes.inc([outcome.status]);
  return {
    result: {
      ...base,
      status: outcome.status,
      jobId: outcome.job?.id,
      tables: outcome.job?.tables.map((t) => t.table),
      rows: outcome.job?.rows,
      reason: outcome.reason,
    },
    worked: outcome.claimed === true,
  };
}

/** Turns a transient failure into the 503 the sender retries on. */
export function transientToHttp(err: unknown): never {
  if (err instanceof TransientIngestError) throw ERRORS.unavailable(err.message, err);
  throw err;
}

/** What the webhook answers for one delivery (a POST that may carry several records). */
export interface DeliveryAnswer {
  status: 'ok' | 'in_progress' | 'ignored' | 'rejected';
  reason?: string;
  results: EventResult[];
}

/**
 * Handles one webhook delivery: parses the body, normalises every record to object events and handles
 * them in order. A body that is not JSON or has no events is answered (2xx, with the reason) so the
 * sender does not retry it forever. Past `SLUICE_MAX_EVENTS_PER_DELIVERY` objects that needed work,
 * the rest waits for the redelivery the 503 causes (what was ingested here is then `duplicate`, so
 * each redelivery gets further); above `SLUICE_MAX_CONCURRENT_INGESTS` running ingests it is 429; a
 * transient failure is 503. `in_progress` for all results means another delivery holds them (202).
 */
export async function deliverEvents(
  services: Services,
  gate: ReturnType<typeof createIngestGate>,
  headers: Record<string, string>,
  text: string,
): Promise<DeliveryAnswer> {
  let body: unknown = null;
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      return { status: 'rejected', reason: 'body is not JSON', results: [] };
    }
  }
  const { events, rejected } = normaliseEvent(headers, body);
  if (events.length === 0) {
    const reason = rejected.map((r) => r.reason).join('; ') || 'no events';
    return { status: 'ignored', reason, results: [] };
  }
  const results: EventResult[] = [];
  const cap = services.config.events.maxEventsPerDelivery;
  let worked = 0;
  for (const [i, e] of events.entries()) {
    if (worked >= cap) {
      throw ERRORS.deliveryCapped(
        `Ingested ${worked} objects (SLUICE_MAX_EVENTS_PER_DELIVERY); ${events.length - i} records not yet handled: redeliver`,
        { handled: results, remaining: events.length - i },
      );
    }
    if (e.type === 'created' && !gate.tryEnter()) {
      throw ERRORS.tooMany(
        `More than ${services.config.events.maxConcurrent} ingests are running; retry later`,
      );
    }
    try {
      const handled = await handleObjectEvent(services, e).catch(transientToHttp);
      results.push(handled.result);
      if (handled.worked) worked++;
    } finally {
      if (e.type === 'created') gate.leave();
    }
  }
  const busy = results.every((r) => r.status === 'in_progress');
  return { status: busy ? 'in_progress' : 'ok', results };
}
