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
 * Delivers events to a webhook the way MinIO does with a queue directory: in order, retrying any
 * non-2xx with backoff, never dropping an event while the process runs.
 */
export function createWebhookRelay(opts: {
  url: string;
  token?: string;
  log?: (msg: string) => void;
}) {
  const queue: unknown[] = [];
  let running = false;
  let stopped = false;

  const post = async (body: unknown): Promise<boolean> => {
    try {
      const res = await fetch(opts.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        },
        body: JSON.stringify(body),
      });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  };

  const drain = async () => {
    if (running) return;
    running = true;
    let delay = 500;
    while (queue.length > 0 && !stopped) {
      if (await post(queue[0])) {
        queue.shift();
        delay = 500;
      } else {
        opts.log?.(`webhook delivery failed; retrying in ${delay} ms (${queue.length} queued)`);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 30_000);
      }
    }
    running = false;
  };

  return {
    push(event: LocalS3Event) {
      queue.push(...toMinioWebhookBodies(event));
      void drain();
    },
    pending: () => queue.length,
    stop() {
      stopped = true;
    },
  };
}
