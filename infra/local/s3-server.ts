import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';

/** The object-created/removed record the local S3 server emits (AWS S3 notification shape). */
export interface LocalS3Event {
  Records: {
    eventName: string;
    eventTime: string;
    s3: {
      bucket: { name: string };
      object: { key: string; size?: number; eTag?: string; sequencer?: string };
    };
  }[];
}

export interface LocalS3 {
  endpoint: string;
  port: number;
  accessKey: string;
  secretKey: string;
  onEvent(fn: (e: LocalS3Event) => void): void;
  stop(): Promise<void>;
}

/**
 * Starts an S3-protocol HTTP server (s3rver) storing objects under `dir`, with `buckets` created. It accepts
 * any credentials and does not check signatures; signature correctness is tested separately.
 */
export async function startLocalS3(opts: {
  dir: string;
  port: number;
  buckets: string[];
  address?: string;
}): Promise<LocalS3> {
  await mkdir(opts.dir, { recursive: true });
  const server = new S3rver({
    address: opts.address ?? '127.0.0.1',
    port: opts.port,
    directory: opts.dir,
    silent: true,
    vhostBuckets: false,
    configureBuckets: opts.buckets.map((name) => ({ name, configs: [] })),
  });
  const info = (await server.run()) as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${info.port}`,
    port: info.port,
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    onEvent(fn) {
      server.on('event', fn);
    },
    async stop() {
      await server.close();
    },
  };
}
