/** One object change, whatever notification format carried it. */
import { unquoteEtag } from '../object-store/etag.ts';
export interface ObjectEvent {
  type: 'created' | 'removed';
  bucket: string;
  key: string;
  etag?: string;
  versionId?: string;
  size?: number;
  /** Which format it came in, for logs and records. */
  source: 'minio' | 's3' | 'eventbridge' | 'cloudevent' | 'gcs';
  eventName: string;
}

/** A body that is not an object event (or not understood), with the reason. */
export interface RejectedEvent {
  reason: string;
}

export type Normalised = { events: ObjectEvent[]; rejected: RejectedEvent[] };

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
};

/**
 * Keys in S3 and MinIO notification records are form-encoded: `+` is a space, `%2B` a plus, and
 * multi-byte UTF-8 arrives percent-encoded.
 */
export function decodeRecordKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

function typeOf(eventName: string): 'created' | 'removed' | undefined {
  const n = eventName.replace(/^s3:/, '');
  if (/^ObjectCreated/i.test(n) || /Object Created/i.test(n) || /\.finalized$/.test(n))
    return 'created';
  if (/^ObjectRemoved/i.test(n) || /Object Deleted/i.test(n) || /\.deleted$/.test(n))
    return 'removed';
  return undefined;
}

function fromS3Records(records: unknown[], source: 'minio' | 's3'): Normalised {
  const out: Normalised = { events: [], rejected: [] };
  for (const r of records) {
    if (!isObj(r) || !isObj(r.s3)) {
      out.rejected.push({ reason: 'record without an s3 section' });
      continue;
    }
    const eventName = str(r.eventName) ?? '';
    const type = typeOf(eventName);
    const s3 = r.s3 as Json;
    const bucket = isObj(s3.bucket) ? str(s3.bucket.name) : undefined;
    const object = isObj(s3.object) ? s3.object : undefined;
    const rawKey = object ? str(object.key) : undefined;
    if (!type) {
      out.rejected.push({
        reason: `not an object created/removed event: '${eventName || 'unnamed'}'`,
      });
      continue;
    }
    if (!bucket || !rawKey || !object) {
      out.rejected.push({ reason: 'record has no bucket name or object key' });
      continue;
    }
    const src = str(r.eventSource)?.startsWith('minio') ? 'minio' : source;
    out.events.push({
      type,
      bucket,
      key: decodeRecordKey(rawKey),
      etag: unquoteEtag(str(object.eTag)),
      versionId: str(object.versionId) || undefined,
      size: num(object.size),
      source: src,
      eventName,
    });
  }
  return out;
}

function fromEventBridge(body: Json): Normalised {
  const detail = isObj(body.detail) ? body.detail : {};
  const eventName = str(body['detail-type']) ?? '';
  const type = typeOf(eventName);
  const bucket = isObj(detail.bucket) ? str(detail.bucket.name) : undefined;
  const object = isObj(detail.object) ? detail.object : undefined;
  if (!type) return { events: [], rejected: [{ reason: `not an object event: '${eventName}'` }] };
  if (!bucket || !object || !str(object.key)) {
    return { events: [], rejected: [{ reason: 'EventBridge event has no bucket or key' }] };
  }
  return {
    events: [
      {
        type,
        bucket,
        // EventBridge keys are URL-encoded like notification records.
        key: decodeRecordKey(str(object.key) as string),
        etag: str(object.etag),
        versionId: str(object['version-id']),
        size: num(object.size),
        source: 'eventbridge',
        eventName,
      },
    ],
    rejected: [],
  };
}

function fromGcsObject(data: Json, eventName: string, source: 'gcs' | 'cloudevent'): Normalised {
  const bucket = str(data.bucket);
  const name = str(data.name);
  if (!bucket || !name)
    return { events: [], rejected: [{ reason: 'storage object without bucket or name' }] };
  const deleted = data.resourceState === 'not_exists' || /deleted$/.test(eventName);
  return {
    events: [
      {
        type: deleted ? 'removed' : 'created',
        bucket,
        key: name,
        etag: str(data.etag) ?? str(data.md5Hash),
        versionId: data.generation !== undefined ? String(data.generation) : undefined,
        size: num(data.size),
        source,
        eventName: eventName || 'storage#object',
      },
    ],
    rejected: [],
  };
}

/** A CloudEvent's `data`, interpreted by its `type`. */
function fromCloudEvent(
  ce: { type: string; subject?: string; source?: string },
  data: unknown,
): Normalised {
  const type = ce.type;
  if (isObj(data)) {
    if (Array.isArray(data.Records)) return retag(fromS3Records(data.Records, 's3'));
    if (isObj(data.s3)) {
      // One S3 record carried as data; its event name is in the CloudEvent type.
      const eventName = str((data as Json).eventName) ?? type.replace(/^com\.amazonaws\.s3\./, '');
      return retag(fromS3Records([{ ...data, eventName }], 's3'));
    }
    if (str(data['detail-type'])) return retag(fromEventBridge(data));
    if (str(data.kind) === 'storage#object' || (str(data.bucket) && str(data.name))) {
      return fromGcsObject(data, type, 'cloudevent');
    }
  }
  return {
    events: [],
    rejected: [{ reason: `CloudEvent of type '${type}' does not describe an object change` }],
  };
}

function retag(n: Normalised): Normalised {
  return { events: n.events.map((e) => ({ ...e, source: 'cloudevent' })), rejected: n.rejected };
}

/**
 * Turns any supported notification into object events: MinIO webhook bodies, AWS S3 notification
 * records, EventBridge "Object Created/Deleted", CloudEvents in binary mode (`ce-*` headers, `data` as
 * the body) and structured mode, and bare GCS object payloads. `headers` are lower-cased names.
 */
export function normaliseEvent(
  headers: Record<string, string | undefined>,
  body: unknown,
): Normalised {
  const ceType = headers['ce-type'];
  if (headers['ce-specversion'] && ceType) {
    return fromCloudEvent(
      { type: ceType, subject: headers['ce-subject'], source: headers['ce-source'] },
      body,
    );
  }
  if (!isObj(body)) return { events: [], rejected: [{ reason: 'body is not a JSON object' }] };
  if (str(body.specversion) !== undefined && str(body.type)) {
    return fromCloudEvent(
      { type: str(body.type) as string, subject: str(body.subject) },
      body.data,
    );
  }
  if (Array.isArray(body.Records)) {
    const minio = str(body.EventName) !== undefined;
    return fromS3Records(body.Records, minio ? 'minio' : 's3');
  }
  if (str(body['detail-type']) && str(body.source) === 'aws.s3') return fromEventBridge(body);
  if (str(body.kind) === 'storage#object') return fromGcsObject(body, 'storage#object', 'gcs');
  return { events: [], rejected: [{ reason: 'unrecognised notification format' }] };
}
