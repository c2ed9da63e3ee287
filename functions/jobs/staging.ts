import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadS3Sdk } from '../../shared/object-store/s3-sdk.ts';
import type { Services } from '../../shared/services.ts';
import { jobStagingPrefix } from '../../shared/storage/job-staging.ts';

/** The part of a job the staging area needs. */
interface StagedJob {
  id: number;
  storageBackend: string;
  userSubdir: string;
  outputDir: string;
}

/** Every key under `prefix` in the bucket (paged listing). */
async function keysUnder(services: Services, prefix: string): Promise<string[]> {
  const { ListObjectsV2Command } = await loadS3Sdk();
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await services.s3.internal.send(
      new ListObjectsV2Command({
        Bucket: services.config.s3.bucket,
        Prefix: prefix,
        ContinuationToken: token,
      }),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/**
 * Copies a transfer-mode job's uploaded outputs from its staging folder to the job's `output_dir` on
 * its own backend (the API mounts it: that is how the input was staged), keeping sub-folders. Returns
 * the output reference, the same `<backend>:<user_subdir>/<output_dir>` a direct-mode job reports.
 */
export async function deliverOutputs(services: Services, job: StagedJob): Promise<string> {
  const bucket = services.config.s3.bucket;
  const from = `${jobStagingPrefix(services.config.s3.prefix, job.id)}output/`;
  const { GetObjectCommand, PutObjectCommand } = await loadS3Sdk();
  for (const key of await keysUnder(services, from)) {
    const rel = key.slice(from.length);
    const target = await services.storage.resolve(
      job.storageBackend,
      job.userSubdir,
      `${job.outputDir}/${rel}`,
    );
    const obj = await services.s3.internal.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const body = obj.Body as Readable;
    if (target.kind === 'fs') {
      // Written beside the target and renamed, so a reader never sees half a file.
      await mkdir(path.dirname(target.path), { recursive: true });
      const part = `${target.path}.sluice-part-${job.id}`;
      try {
        await pipeline(body, createWriteStream(part));
        await rename(part, target.path);
      } catch (err) {
        await rm(part, { force: true });
        throw err;
      }
    } else {
      await services.s3.internal.send(
        new PutObjectCommand({
          Bucket: target.bucket,
          Key: target.key,
          Body: body instanceof Readable ? body : Readable.from([]),
          ContentLength: obj.ContentLength,
        }),
      );
    }
  }
  return `${job.storageBackend}:${job.userSubdir}/${job.outputDir}`;
}

/** Deletes a job's staging folder (staged input and uploaded outputs). */
export async function removeStaging(services: Services, id: number): Promise<void> {
  const { DeleteObjectCommand } = await loadS3Sdk();
  for (const key of await keysUnder(services, jobStagingPrefix(services.config.s3.prefix, id)))
    await services.s3.internal.send(
      new DeleteObjectCommand({ Bucket: services.config.s3.bucket, Key: key }),
    );
}
