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
import { FINISHED, type IngestRow, ingestLine, waitForIngests } from '../lib/ingests.ts';
import { type ProgressSink, TransferMeter } from '../lib/progress.ts';
import { stateDir } from '../lib/stack-file.ts';
import { uploadFile } from '../lib/upload.ts';

/** Progress on a TTY (phase, rate of the bytes sent by this run, ETA); quiet when piped or --json. */
function progress(enabled: boolean, total: number, name: string): ProgressSink & { stop(): void } {
  if (!enabled || !process.stderr.isTTY)
    return { phase: () => {}, add: () => {}, skip: () => {}, stop: () => {} };
  const bar = new SingleBar(
    {
      format: `${name} {phase} [{bar}] {percentage}% | {value}/{total} bytes | {speed} MB/s | ETA {eta_formatted}`,
      stream: process.stderr,
    },
    undefined,
  );
  const meter = new TransferMeter();
  const show = () =>
    bar.update(meter.done, { phase: meter.phase, speed: meter.speedMBps().toFixed(1) });
  bar.start(total, 0, { phase: meter.phase, speed: '0' });
  return {
    phase(label) {
      meter.setPhase(label);
      show();
    },
    add(n) {
      meter.addSent(n);
      show();
    },
    skip(n) {
      meter.addSkipped(n);
      show();
    },
    stop: () => bar.stop(),
  };
}

interface UploadOpts {
  name?: string;
  parallel: string;
  wait?: boolean;
  waitTimeout: string;
}

/** `--wait`: each key's finished ingest (tables and rows) or its failure; non-zero exit on any failure. */
async function printIngests(api: ReturnType<typeof apiClient>, keys: string[], timeoutMs: number) {
  const done = await waitForIngests(api, keys, timeoutMs);
  for (const [key, job] of done) {
    if (!job) {
      process.exitCode = 1;
      api.print(
        { key, status: 'timed_out' },
        () => `${key}: no finished ingest within ${timeoutMs / 1000} s`,
      );
      continue;
    }
    if (job.status !== 'done') process.exitCode = 1;
    api.print(job, () =>
      job.status === 'done'
        ? `${key}: ingested ${job.rows ?? 0} rows into ${job.tables.map((t) => `${t.table} (${t.rows} rows)`).join(', ')}`
        : `${key}: ingest ${job.status}: ${job.error ?? 'no reason given'}`,
    );
  }
}

/** `sluice upload`, `sluice download`, `sluice ls`, `sluice ingests`. */
export function register(program: Command): void {
  program
    .command('upload')
    .description(
      'upload files through presigned URLs (multipart above the single-PUT limit, resumable)',
    )
    .argument('<files...>')
    .option('--name <name>', 'object name (single file only); default: the file name')
    .option('--parallel <n>', 'parts uploaded at once', '4')
    .option('--wait', "wait for each file's ingest; print its tables and rows or why it failed")
    .option('--wait-timeout <seconds>', 'how long --wait waits for all ingests', '600')
    .action(async (files: string[], opts: UploadOpts) => {
      const api = apiClient(program);
      if (opts.name && files.length > 1) throw new Error('--name needs exactly one file');
      const waitTimeoutMs = Number(opts.waitTimeout) * 1000;
      if (!(waitTimeoutMs > 0))
        throw new Error('--wait-timeout must be a number of seconds above 0');
      const keys: string[] = [];
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
          keys.push(out.key);
          api.print(
            { key: out.key, size: out.size, multipart: out.multipart, sha256: out.sha256 },
            () => out.key,
          );
        } finally {
          bar.stop();
        }
      }
      if (opts.wait) await printIngests(api, keys, waitTimeoutMs);
    });

  program
    .command('ingests')
    .description('ingest jobs: key, status, tables (rows), rows, reason')
    .option('--status <status>', 'only jobs with this status')
    .option('--key <key>', 'only this object key')
    .option('--limit <n>', 'at most this many jobs', '50')
    .option('--watch', 'refresh every 2 s until interrupted or every listed job has finished')
    .action(async (o: { status?: string; key?: string; limit: string; watch?: boolean }) => {
      const api = apiClient(program);
      const q = new URLSearchParams({ limit: o.limit });
      if (o.status) q.set('status', o.status);
      if (o.key) q.set('key', o.key);
      for (;;) {
        const { jobs } = await api.call<{ jobs: IngestRow[] }>('GET', `/api/v1/ingests?${q}`);
        api.print(jobs, () =>
          ['key\tstatus\ttables\trows\treason', ...jobs.map(ingestLine)].join('\n'),
        );
        if (!o.watch || jobs.every((j) => FINISHED.has(j.status))) return;
        await new Promise((r) => setTimeout(r, 2000));
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
