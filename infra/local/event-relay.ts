import type { LocalS3Event } from './s3-server.ts';

/** MinIO's `url.QueryEscape`: everything but unreserved characters percent-encoded, space as `+`. */
export function minioEscape(key: string): string {
  return encodeURIComponent(key)
    .replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/**
 * Rewrites a local S3 server event into the body MinIO's webhook target POSTs: one record per body,
 * `EventName` and `Key` (bucket/key, raw) at the top, `s3.object.key` query-escaped, `s3:` event names.
 */
export function toMinioWebhookBodies(event: LocalS3Event): unknown[] {
  return event.Records.map((r) => {
    const eventName = r.eventName.startsWith('s3:') ? r.eventName : `s3:${r.eventName}`;
    const key = r.s3.object.key;
    return {
      EventName: eventName,
      Key: `${r.s3.bucket.name}/${key}`,
      Records: [
        {
          ...r,
          eventSource: 'minio:s3',
          eventName,
          s3: { ...r.s3, object: { ...r.s3.object, key: minioEscape(key) } },
        },
      ],
    };
  });
}

/**
 * Delivers events to a webhook the way MinIO does with a queue directory: retrying any non-2xx with
 * backoff, never dropping an event while the process runs. One POST at a time, each bounded by
 * `timeoutMs`; an event that fails waits for its own backoff at the back of the queue, so a stuck
 * object never holds up the events behind it.
 */
export function createWebhookRelay(opts: {
  url: string;
  token?: string;
  log?: (msg: string) => void;
  /** Bound on one delivery (default 11 minutes: longer than an ingest's default deadline). */
  timeoutMs?: number;
  /** First retry delay; doubled per failure of the same event up to `maxDelayMs` (30 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}) {
  interface Pending {
    body: unknown;
    failures: number;
    notBefore: number;
  }
  const queue: Pending[] = [];
  const timeoutMs = opts.timeoutMs ?? 660_000;
  const baseDelayMs = opts.baseDelayMs ?? 500;
  const maxDelayMs = opts.maxDelayMs ?? 30_000;
  let running = false;
  let stopped = false;
  let inFlight = 0;
  let wake: (() => void) | undefined;

  const post = async (body: unknown): Promise<boolean> => {
    try {
      const res = await fetch(opts.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const drain = async () => {
    if (running) return;
    running = true;
    while (queue.length > 0 && !stopped) {
      const now = Date.now();
      const at = queue.findIndex((p) => p.notBefore <= now);
      if (at < 0) {
        await sleep(Math.min(...queue.map((p) => p.notBefore)) - now);
        continue;
      }
      const [item] = queue.splice(at, 1) as [Pending];
      inFlight = 1;
      const ok = await post(item.body);
      inFlight = 0;
      if (ok) continue;
      const delay = Math.min(baseDelayMs * 2 ** item.failures, maxDelayMs);
      item.failures++;
      item.notBefore = Date.now() + delay;
      queue.push(item);
      opts.log?.(`webhook delivery failed; retrying it in ${delay} ms (${queue.length} queued)`);
    }
    running = false;
  };

  return {
    push(event: LocalS3Event) {
      for (const body of toMinioWebhookBodies(event))
        queue.push({ body, failures: 0, notBefore: 0 });
      // A new event need not wait for an older one's backoff.
      wake?.();
      void drain();
    },
    /** Events not yet accepted, the one being delivered included. */
    pending: () => queue.length + inFlight,
    stop() {
      stopped = true;
      wake?.();
    },
  };
}
