import { readFile } from 'node:fs/promises';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { minioEscape } from '../../infra/local/event-relay.ts';
import type { TestStack } from './stack.ts';

/** Puts a local file (or bytes) into the stack's bucket and returns its ETag. */
export async function putObject(
  stack: TestStack,
  key: string,
  body: string | Uint8Array,
): Promise<string> {
  const data = typeof body === 'string' ? await readFile(body) : body;
  await stack.services.s3.internal.send(
    new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: data }),
  );
  const head = await stack.services.s3.internal.send(
    new HeadObjectCommand({ Bucket: stack.bucket, Key: key }),
  );
  return (head.ETag ?? '').replaceAll('"', '');
}

/** The body MinIO's webhook target would POST for this object. */
export function minioBody(
  bucket: string,
  key: string,
  etag: string,
  eventName = 's3:ObjectCreated:Put',
  size = 1,
) {
  return {
    EventName: eventName,
    Key: `${bucket}/${key}`,
    Records: [
      {
        eventVersion: '2.0',
        eventSource: 'minio:s3',
        eventName,
        eventTime: new Date().toISOString(),
        s3: {
          bucket: { name: bucket },
          object: { key: minioEscape(key), size, eTag: etag, sequencer: '1' },
        },
      },
    ],
  };
}

/** Posts a body to `/minio-event` with the webhook token, as MinIO would. */
export function postEvent(
  app: { request: (path: string, init: RequestInit) => Response | Promise<Response> },
  body: unknown,
  token = 'test-webhook-token',
) {
  return app.request('/minio-event', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}
