import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** What the API planned for a multipart upload. */
export interface MultipartPlan {
  method: 'MULTIPART';
  key: string;
  uploadId: string;
  partSize: number;
  partCount: number;
}

/** A part as it was sent: the hashes of the bytes read from the file, and the store's ETag. */
export interface SentPart {
  sha256: string;
  md5: string;
  etag: string;
}

/** Resume state of one multipart upload, kept in the CLI's state folder (never beside the data). */
export interface UploadState {
  version: 1;
  api: string;
  file: string;
  name: string;
  size: number;
  plan: MultipartPlan;
  parts: Record<string, SentPart>;
}

/**
 * Where the resume state of uploading `file` as `name` to `api` lives: `<state>/uploads/<sha256>.json`.
 * The name is a hash, so any file path or object name gives one safe file name inside that folder.
 */
export function uploadStateFile(state: string, api: string, file: string, name: string): string {
  const id = createHash('sha256')
    .update(JSON.stringify([api, path.resolve(file), name]))
    .digest('hex');
  return path.join(state, 'uploads', `${id}.json`);
}

export async function readUploadState(file: string): Promise<UploadState | undefined> {
  if (!existsSync(file)) return undefined;
  try {
    const s = JSON.parse(await readFile(file, 'utf8')) as UploadState;
    return s.version === 1 && s.plan?.method === 'MULTIPART' ? s : undefined;
  } catch {
    // A state file cut short by a crash: starting over is always safe.
    return undefined;
  }
}

/** Saves the state atomically (write, then rename), so a kill mid-write leaves the old one. */
export function stateWriter(file: string) {
  let chain: Promise<void> = Promise.resolve();
  return {
    save(state: UploadState): Promise<void> {
      const text = JSON.stringify(state);
      chain = chain.then(async () => {
        await mkdir(path.dirname(file), { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        await writeFile(tmp, text, { mode: 0o600 });
        await rename(tmp, file);
      });
      return chain;
    },
    async remove(): Promise<void> {
      await chain.catch(() => {});
      await rm(file, { force: true });
    },
  };
}
