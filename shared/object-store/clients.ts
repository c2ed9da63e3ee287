import type { Config } from '../config/load.ts';
import { ERRORS } from '../errors.ts';
import type { BackendHealth } from '../storage/resolver.ts';
import { LazyS3Client, loadS3Sdk } from './s3-sdk.ts';

/**
 * The three views of the object store: `internal` for data-path calls inside the cluster, `admin` for
 * administrative calls, `signer` configured for the PUBLIC endpoint because a SigV4 signature covers the
 * Host header the user will send. None of them makes a network call when created, and the SDK itself
 * loads on the first call that needs it.
 */
export interface S3Clients {
  internal: LazyS3Client;
  admin: LazyS3Client;
  signer: LazyS3Client;
  bucket: string;
  prefix: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  publicEndpoint: string;
}

/** Connection and request bounds of every client (a store that accepts and never answers). */
export interface S3Timeouts {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

function client(
  endpoint: string,
  region: string,
  credentials: S3Clients['credentials'],
  timeouts: S3Timeouts,
): LazyS3Client {
  return new LazyS3Client({
    endpoint,
    region,
    credentials,
    forcePathStyle: true,
    // requestTimeout is the socket's idle bound: it also ends a download that stops sending.
    requestHandler: {
      connectionTimeout: timeouts.connectTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      // Without it this SDK only logs a warning when the bound passes, and keeps waiting.
      throwOnRequestTimeout: true,
    },
    // Otherwise the SDK bakes a CRC32 of an empty body into presigned PUT URLs and chunk-frames bodies.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 2,
  });
}

/** Creates the clients from config. Throws a readable error when credentials are missing. */
export function createS3Clients(s3: Config['s3']): S3Clients {
  if (!s3.accessKey || !s3.secretKey) {
    throw ERRORS.config('MINIO_ACCESS_KEY and MINIO_SECRET_KEY are required for the object store');
  }
  const credentials = { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey };
  const timeouts = {
    connectTimeoutMs: s3.connectTimeoutMs,
    requestTimeoutMs: s3.requestTimeoutMs,
  };
  return {
    internal: client(s3.endpoint, s3.region, credentials, timeouts),
    admin: client(s3.adminEndpoint, s3.region, credentials, timeouts),
    signer: client(s3.publicEndpoint, s3.region, credentials, timeouts),
    bucket: s3.bucket,
    prefix: s3.prefix,
    region: s3.region,
    credentials,
    publicEndpoint: s3.publicEndpoint,
  };
}

/** Readiness: the bucket answers HEAD. */
export async function pingBucket(clients: S3Clients): Promise<void> {
  const { HeadBucketCommand } = await loadS3Sdk();
  await clients.internal.send(new HeadBucketCommand({ Bucket: clients.bucket }), {
    abortSignal: AbortSignal.timeout(3_000),
  });
}

/** Health of an s3-type storage backend: list, write and delete a probe object under its prefix. */
export function s3Probe(clients: S3Clients) {
  return async (bucket: string, prefix: string): Promise<BackendHealth> => {
    const started = performance.now();
    const latency = () => Math.round((performance.now() - started) * 100) / 100;
    const { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } = await loadS3Sdk();
    try {
      await clients.internal.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }),
      );
    } catch (err) {
      return {
        exists: false,
        readable: false,
        writable: false,
        latencyMs: latency(),
        error: (err as Error).name,
      };
    }
    const key = `${prefix}.sluice-probe-${process.pid}-${Date.now()}`;
    try {
      await clients.internal.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'ok' }));
      await clients.internal.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      return { exists: true, readable: true, writable: true, latencyMs: latency() };
    } catch {
      return { exists: true, readable: true, writable: false, latencyMs: latency() };
    }
  };
}
