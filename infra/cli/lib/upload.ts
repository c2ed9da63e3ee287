import { createHash } from 'node:crypto';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { unquoteEtag } from '../../../shared/object-store/etag.ts';
import type { apiClient } from './api.ts';
import type { ProgressSink } from './progress.ts';
import {
  type MultipartPlan,
  readUploadState,
  stateWriter,
  type UploadState,
  uploadStateFile,
} from './upload-state.ts';

type Api = ReturnType<typeof apiClient>;
type Plan =
  | MultipartPlan
  | { method: 'PUT'; url: string; headers?: Record<string, string>; key: string };

/** The saved upload cannot be continued (aborted, completed, expired on the store): start over. */
class StaleUpload extends Error {}

const hex = (algo: 'md5' | 'sha256', b: Uint8Array) => createHash(algo).update(b).digest('hex');
/** ETags that are MD5s: of the object (one PUT, or s3rver), or of the part MD5s (`-<parts>`, S3/MinIO). */
const MD5_ETAG = /^[0-9a-f]{32}(-\d+)?$/;

export async function withRetries<T>(what: string, fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StaleUpload || i >= attempts)
        throw err instanceof StaleUpload
          ? err
          : new Error(`${what} failed after ${attempts} attempts: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 250 * 2 ** i));
    }
  }
}

async function readRange(
  fh: FileHandle,
  start: number,
  length: number,
): Promise<Buffer<ArrayBuffer>> {
  const chunk = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(chunk, done, length - done, start + done);
    if (bytesRead === 0) throw new Error('the file got shorter during the upload');
    done += bytesRead;
  }
  return chunk;
}

/** The file's SHA-256, its MD5, and the multipart ETag the store would compute for `partSize` parts. */
async function fileDigests(fh: FileHandle, size: number, partSize: number) {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  const partMd5s: Buffer[] = [];
  for (let start = 0; start < size; start += partSize) {
    const chunk = await readRange(fh, start, Math.min(partSize, size - start));
    sha.update(chunk);
    md5.update(chunk);
    partMd5s.push(createHash('md5').update(chunk).digest());
  }
  const composite = `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partMd5s.length}`;
  return { sha256: sha.digest('hex'), md5: md5.digest('hex'), composite };
}

export interface UploadResult {
  key: string;
  size: number;
  multipart: boolean;
  sha256: string;
  /** Parts skipped because the store holds them and the file's bytes still hash the same. */
  resumedParts: number;
}

/**
 * Uploads one file: a single PUT, or a multipart upload that resumes from the state saved in the CLI's
 * state folder. A part is skipped only when the store holds it with the ETag recorded when it was sent
 * AND the file's bytes for it still have the SHA-256 recorded then. At the end the stored object's
 * ETag is compared with the file's MD5 (or its multipart MD5); an ETag that is no MD5 (encrypted
 * stores) is checked by downloading the object and comparing SHA-256. Any difference throws.
 */
export async function uploadFile(
  api: Api,
  opts: {
    base: string;
    state: string;
    file: string;
    name: string;
    parallel: number;
    progress: ProgressSink;
    say(msg: string): void;
  },
): Promise<UploadResult> {
  const size = (await stat(opts.file)).size;
  const stateFile = uploadStateFile(opts.state, opts.base, opts.file, opts.name);
  const writer = stateWriter(stateFile);
  let saved = await readUploadState(stateFile);
  if (saved && (saved.size !== size || saved.name !== opts.name)) saved = undefined;
  const fh = await open(opts.file, 'r');
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await attemptUpload(api, opts, fh, size, saved, writer);
        await writer.remove();
        return result;
      } catch (err) {
        if (!(err instanceof StaleUpload) || attempt > 1) {
          if (err instanceof StaleUpload) await writer.remove();
          throw err;
        }
        opts.say(`${opts.file}: ${err.message}; starting the upload over`);
        await writer.remove();
        saved = undefined;
      }
    }
  } finally {
    await fh.close();
  }
}

async function attemptUpload(
  api: Api,
  opts: Parameters<typeof uploadFile>[1],
  fh: FileHandle,
  size: number,
  saved: UploadState | undefined,
  writer: ReturnType<typeof stateWriter>,
): Promise<UploadResult> {
  const plan: Plan =
    saved?.plan ?? (await api.call<Plan>('POST', '/api/v1/uploads', { name: opts.name, size }));
  let resumedParts = 0;
  if (plan.method === 'PUT') {
    opts.progress.phase('uploading');
    const body = await readRange(fh, 0, size);
    await withRetries('upload', async () => {
      const res = await fetch(plan.url, { method: 'PUT', body, headers: plan.headers });
      if (!res.ok) throw new Error(`PUT answered ${res.status}`);
    });
    opts.progress.add(size);
  } else {
    const state: UploadState = saved ?? {
      version: 1,
      api: opts.base,
      file: opts.file,
      name: opts.name,
      size,
      plan,
      parts: {},
    };
    await writer.save(state);
    const id = encodeURIComponent(plan.uploadId);
    const keyQ = encodeURIComponent(plan.key);
    const have = await api
      .call<{ status: string; parts: { partNumber: number; etag: string }[] }>(
        'GET',
        `/api/v1/uploads/${id}?key=${keyQ}`,
      )
      .catch((err: Error) => {
        if (saved && /not found/i.test(err.message))
          throw new StaleUpload(`upload ${plan.uploadId} is unknown to the API`);
        throw err;
      });
    if (have.status !== 'open') throw new StaleUpload(`upload ${plan.uploadId} is ${have.status}`);
    const onStore = new Map(have.parts.map((p) => [p.partNumber, unquoteEtag(p.etag)]));
    const etags = new Map<number, string>();
    const todo: number[] = [];
    if (saved) opts.progress.phase('checking sent parts');
    for (let n = 1; n <= plan.partCount; n++) {
      const sent = state.parts[String(n)];
      const stored = onStore.get(n);
      if (sent && stored && stored === sent.etag) {
        const start = (n - 1) * plan.partSize;
        const chunk = await readRange(fh, start, Math.min(plan.partSize, size - start));
        if (hex('sha256', chunk) === sent.sha256) {
          etags.set(n, stored);
          opts.progress.skip(chunk.length);
          resumedParts++;
          continue;
        }
        opts.say(`${opts.file}: part ${n} changed since it was sent; sending it again`);
      }
      delete state.parts[String(n)];
      todo.push(n);
    }
    opts.progress.phase('uploading');
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const n = todo[next++] as number;
        const start = (n - 1) * plan.partSize;
        const chunk = await readRange(fh, start, Math.min(plan.partSize, size - start));
        const md5 = hex('md5', chunk);
        const etag = await withRetries(`part ${n}`, async () => {
          const { parts } = await api
            .call<{ parts: { url: string }[] }>('POST', `/api/v1/uploads/${id}/parts`, {
              key: plan.key,
              partNumbers: [n],
            })
            .catch((err: Error) => {
              if (/is (aborted|completed)/.test(err.message)) throw new StaleUpload(err.message);
              throw err;
            });
          const res = await fetch(parts[0]?.url as string, { method: 'PUT', body: chunk });
          if (res.status === 404)
            throw new StaleUpload(`the object store no longer knows upload ${plan.uploadId}`);
          if (!res.ok) throw new Error(`part PUT answered ${res.status}`);
          const tag = unquoteEtag(res.headers.get('etag')) ?? '';
          // An MD5 ETag that differs from the bytes sent means they were damaged on the way.
          if (/^[0-9a-f]{32}$/.test(tag) && tag !== md5)
            throw new Error(
              `the store received other bytes for part ${n} (ETag ${tag}, sent ${md5})`,
            );
          return tag;
        });
        await api.call('PUT', `/api/v1/uploads/${id}/parts/${n}`, {
          key: plan.key,
          etag,
          size: chunk.length,
        });
        etags.set(n, etag);
        state.parts[String(n)] = { sha256: hex('sha256', chunk), md5, etag };
        await writer.save(state);
        opts.progress.add(chunk.length);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.parallel) }, worker));
    const parts = [...etags.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([partNumber, etag]) => ({ partNumber, etag }));
    await api
      .call('POST', `/api/v1/uploads/${id}/complete`, { key: plan.key, parts })
      .catch((err: Error) => {
        if (/is (aborted|completed)|NoSuchUpload/.test(err.message))
          throw new StaleUpload(err.message);
        throw err;
      });
  }
  opts.progress.phase('hashing to verify');
  const sha256 = await verifyStored(api, fh, size, plan);
  return { key: plan.key, size, multipart: plan.method === 'MULTIPART', sha256, resumedParts };
}

/** Compares the stored object with the file as it is now; returns the file's SHA-256. */
async function verifyStored(api: Api, fh: FileHandle, size: number, plan: Plan): Promise<string> {
  const partSize = plan.method === 'MULTIPART' ? plan.partSize : Math.max(1, size);
  const local = await fileDigests(fh, size, partSize);
  const folder = plan.key.slice(plan.key.indexOf('/') + 1, plan.key.lastIndexOf('/') + 1);
  const listed = await api.call<{ objects: { key: string; size: number; etag?: string }[] }>(
    'GET',
    `/api/v1/objects?prefix=${encodeURIComponent(folder)}`,
  );
  const found = listed.objects.find((o) => o.key === plan.key);
  const fail = (why: string) =>
    new Error(
      `verification failed: ${plan.key} ${why}; the file may have changed during the upload: run sluice upload again`,
    );
  if (!found) throw fail('is missing on the server');
  if (found.size !== size) throw fail(`is ${found.size} bytes on the server, the file ${size}`);
  const etag = unquoteEtag(found.etag) ?? '';
  if (MD5_ETAG.test(etag)) {
    if (etag !== local.md5 && etag !== local.composite)
      throw fail(
        `on the server (ETag ${etag}) differs from the file (MD5 ${local.md5}, multipart ${local.composite})`,
      );
    return local.sha256;
  }
  // No MD5 to compare with: read the object back.
  const { url } = await api.call<{ url: string }>(
    'GET',
    `/api/v1/downloads?key=${encodeURIComponent(plan.key)}`,
  );
  const res = await fetch(url);
  if (!res.ok) throw fail(`could not be read back (${res.status})`);
  const hash = createHash('sha256');
  if (res.body)
    for await (const chunk of Readable.fromWeb(res.body as WebReadableStream))
      hash.update(chunk as Uint8Array);
  const remote = hash.digest('hex');
  if (remote !== local.sha256)
    throw fail(`on the server (SHA-256 ${remote}) differs from the file (${local.sha256})`);
  return local.sha256;
}
