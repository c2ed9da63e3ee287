import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { apiClient } from '../lib/api.ts';

interface Plan {
  method: 'PUT' | 'MULTIPART';
  url?: string;
  headers?: Record<string, string>;
  key: string;
  uploadId?: string;
  partSize?: number;
  partCount?: number;
}

async function withRetries<T>(what: string, fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts)
        throw new Error(`${what} failed after ${attempts} attempts: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 250 * 2 ** i));
    }
  }
}

/** Progress on a TTY (rate and ETA); quiet when piped or with --json. */
function progress(enabled: boolean, total: number, name: string) {
  if (!enabled || !process.stderr.isTTY) return { add: (_n: number) => {}, stop: () => {} };
  const bar = new SingleBar(
    {
      format: `${name} [{bar}] {percentage}% | {value}/{total} bytes | {speed} MB/s | ETA {eta_formatted}`,
      stream: process.stderr,
    },
    undefined,
  );
  const t0 = Date.now();
  let done = 0;
  bar.start(total, 0, { speed: '0' });
  return {
    add(n: number) {
      done += n;
      bar.update(done, {
        speed: (done / 1e6 / Math.max(0.001, (Date.now() - t0) / 1000)).toFixed(1),
      });
    },
    stop: () => bar.stop(),
  };
}

/** `sluice upload`, `sluice download`, `sluice ls`. */
export function register(program: Command): void {
  program
    .command('upload')
    .description(
      'upload files through presigned URLs (multipart above the single-PUT limit, resumable)',
    )
    .argument('<files...>')
    .option('--name <name>', 'object name (single file only); default: the file name')
    .option('--parallel <n>', 'parts uploaded at once', '4')
    .action(async (files: string[], opts: { name?: string; parallel: string }) => {
      const api = apiClient(program);
      if (opts.name && files.length > 1) throw new Error('--name needs exactly one file');
      for (const file of files) {
        const size = (await stat(file)).size;
        const name = opts.name ?? path.basename(file);
        // A state file beside the upload lets an interrupted multipart upload resume.
        const stateFile = `${file}.sluice-upload.json`;
        const saved = existsSync(stateFile)
          ? (JSON.parse(await readFile(stateFile, 'utf8')) as {
              plan: Plan;
              size: number;
              name: string;
            })
          : undefined;
        const plan: Plan =
          saved && saved.size === size && saved.name === name
            ? saved.plan
            : await api.call<Plan>('POST', '/api/v1/uploads', { name, size });
        const bar = progress(!api.json, size, name);
        if (plan.method === 'PUT') {
          await withRetries('upload', async () => {
            const res = await fetch(plan.url as string, {
              method: 'PUT',
              body: await readFile(file),
              headers: plan.headers,
            });
            if (!res.ok) throw new Error(`PUT answered ${res.status}`);
          });
          bar.add(size);
        } else {
          await writeFile(stateFile, JSON.stringify({ plan, size, name }));
          const id = encodeURIComponent(plan.uploadId as string);
          const keyQ = encodeURIComponent(plan.key);
          const have = await api.call<{
            parts: { partNumber: number; etag: string; size: number | null }[];
          }>('GET', `/api/v1/uploads/${id}?key=${keyQ}`);
          const etags = new Map(have.parts.map((p) => [p.partNumber, p.etag]));
          for (const p of have.parts) bar.add(p.size ?? 0);
          const todo = Array.from({ length: plan.partCount as number }, (_, i) => i + 1).filter(
            (n) => !etags.has(n),
          );
          const fh = await open(file, 'r');
          try {
            let next = 0;
            const worker = async () => {
              while (next < todo.length) {
                const n = todo[next++] as number;
                const start = (n - 1) * (plan.partSize as number);
                const length = Math.min(plan.partSize as number, size - start);
                const chunk = Buffer.alloc(length);
                await fh.read(chunk, 0, length, start);
                const etag = await withRetries(`part ${n}`, async () => {
                  const { parts } = await api.call<{ parts: { url: string }[] }>(
                    'POST',
                    `/api/v1/uploads/${id}/parts`,
                    { key: plan.key, partNumbers: [n] },
                  );
                  const res = await fetch(parts[0]?.url as string, { method: 'PUT', body: chunk });
                  if (!res.ok) throw new Error(`part PUT answered ${res.status}`);
                  return (res.headers.get('etag') ?? '').replaceAll('"', '');
                });
                await api.call('PUT', `/api/v1/uploads/${id}/parts/${n}`, {
                  key: plan.key,
                  etag,
                  size: length,
                });
                etags.set(n, etag);
                bar.add(length);
              }
            };
            await Promise.all(Array.from({ length: Math.max(1, Number(opts.parallel)) }, worker));
          } finally {
            await fh.close();
          }
          const parts = [...etags.entries()]
            .sort((a, b) => a[0] - b[0])
            .map(([partNumber, etag]) => ({ partNumber, etag }));
          await api.call('POST', `/api/v1/uploads/${id}/complete`, { key: plan.key, parts });
          await rm(stateFile, { force: true });
        }
        bar.stop();
        // Verify: the object is listed with the file's size.
        const folder = plan.key.slice(plan.key.indexOf('/') + 1, plan.key.lastIndexOf('/') + 1);
        const listed = await api.call<{ objects: { key: string; size: number }[] }>(
          'GET',
          `/api/v1/objects?prefix=${encodeURIComponent(folder)}`,
        );
        const found = listed.objects.find((o) => o.key === plan.key);
        if (!found || found.size !== size)
          throw new Error(
            `verification failed: ${plan.key} is ${found ? `${found.size} bytes` : 'missing'}, expected ${size}`,
          );
        api.print({ key: plan.key, size, multipart: plan.method === 'MULTIPART' }, () => plan.key);
      }
    });

  program
    .command('download')
    .description('download an object through a presigned URL')
    .argument('<key>')
    .option('-o, --output <file>', 'where to write it (default: its file name)')
    .action(async (key: string, opts: { output?: string }) => {
      const api = apiClient(program);
      const { url } = await api.call<{ url: string }>(
        'GET',
        `/api/v1/downloads?key=${encodeURIComponent(key)}`,
      );
      const res = await fetch(url);
      if (!res.ok || !res.body) throw new Error(`download answered ${res.status}`);
      const out = opts.output ?? path.basename(key);
      const hash = createHash('sha256');
      const body = Readable.fromWeb(res.body as WebReadableStream);
      body.on('data', (d: Buffer) => hash.update(d));
      await pipeline(body, createWriteStream(out));
      api.print({ key, file: out, sha256: hash.digest('hex') }, () => out);
    });

  program
    .command('ls')
    .description('list your objects')
    .argument('[prefix]')
    .action(async (prefix: string | undefined) => {
      const api = apiClient(program);
      const all: { key: string; size: number; lastModified?: string }[] = [];
      let cursor: string | null = null;
      do {
        const q: string = `/api/v1/objects?${new URLSearchParams({ ...(prefix ? { prefix } : {}), ...(cursor ? { cursor } : {}) })}`;
        const page: { objects: typeof all; nextCursor: string | null } = await api.call('GET', q);
        all.push(...page.objects);
        cursor = page.nextCursor;
      } while (cursor);
      api.print(all, () =>
        all
          .map((o) => `${String(o.size).padStart(12)}  ${o.lastModified ?? ''}  ${o.key}`)
          .join('\n'),
      );
    });
}
