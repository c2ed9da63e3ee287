import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { apiBase, apiClient } from '../lib/api.ts';
import { stateDir } from '../lib/stack-file.ts';
import { uploadFile } from '../lib/upload.ts';

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
      const parallel = Number(opts.parallel);
      if (!Number.isInteger(parallel) || parallel < 1)
        throw new Error('--parallel must be a whole number of at least 1');
      for (const file of files) {
        const name = opts.name ?? path.basename(file);
        const bar = progress(!api.json, (await stat(file)).size, name);
        try {
          const out = await uploadFile(api, {
            base: apiBase(program),
            state: stateDir(),
            file,
            name,
            parallel,
            progress: bar,
            say: (msg) => process.stderr.write(`sluice: ${msg}\n`),
          });
          bar.stop();
          api.print(
            { key: out.key, size: out.size, multipart: out.multipart, sha256: out.sha256 },
            () => out.key,
          );
        } finally {
          bar.stop();
        }
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
