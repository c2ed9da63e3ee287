import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../../shared/config/load.ts';
import { AppError } from '../../shared/errors.ts';
import { StorageResolver } from '../../shared/storage/resolver.ts';

/** The job as the API hands it to a worker. */
interface ClaimedJob {
  id: number;
  kind: string;
  userSubdir: string;
  storageBackend: string;
  inputFile: string;
  outputDir: string;
  mode: 'direct' | 'transfer';
  transfer: { input: { name: string; url: string }; outputPrefix: string } | null;
}

export interface WorkerOptions {
  api: string;
  token: string;
  workerId: string;
  /** This machine's storage, parsed by the shared config loader (its own `[storage.*]` mounts). */
  storage: Config['storage'];
  /** Command to run, with `{input}` and `{output_dir}` replaced; otherwise the built-in kinds. */
  exec?: string;
  pollMs?: number;
  heartbeatMs?: number;
  log?: (line: string) => void;
  /** Stop after this many jobs (tests); default: run until stopped. */
  maxJobs?: number;
}

/** A small, real worker loop: announce, claim, resolve paths to THIS machine's mounts, run, report. */
export function createWorker(opts: WorkerOptions) {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const resolver = new StorageResolver(opts.storage, { bucket: '' });
  const backends = opts.storage.filter((b) => b.type !== 's3').map((b) => b.name);
  let stopping = false;
  let current: Promise<void> | undefined;

  const call = async <T>(method: string, url: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${opts.api}${url}`, {
      method,
      headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const out = (await res.json().catch(() => ({}))) as T & { message?: string };
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${out.message ?? ''}`);
    return out;
  };

  /** Runs the configured command or a built-in kind; resolves with the exit status. */
  const run = (job: ClaimedJob, input: string, outputDir: string): Promise<number> => {
    if (!opts.exec) {
      if (job.kind !== 'copy') return Promise.resolve(127);
      // Built-in `copy`: the output folder receives the input file.
      return copyFile(input, path.join(outputDir, path.basename(input))).then(() => 0);
    }
    const command = opts.exec
      .replaceAll('{input}', JSON.stringify(input))
      .replaceAll('{output_dir}', JSON.stringify(outputDir));
    return new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (d: Buffer) => log(`[job ${job.id}] ${d.toString().trimEnd()}`));
      child.stderr.on('data', (d: Buffer) => log(`[job ${job.id}] ${d.toString().trimEnd()}`));
      child.once('exit', (code) => resolve(code ?? 1));
    });
  };

  async function handle(job: ClaimedJob): Promise<void> {
    const beat = setInterval(() => {
      call('POST', `/api/v1/jobs/${job.id}/heartbeat`, { worker_id: opts.workerId }).catch(
        () => {},
      );
    }, opts.heartbeatMs ?? 10_000);
    const scratch = await mkdtemp(path.join(os.tmpdir(), `sluice-job-${job.id}-`));
    try {
      let input: string;
      let outputDir: string;
      let outputRef: string;
      if (job.mode === 'transfer' && job.transfer) {
        input = path.join(scratch, 'input', job.transfer.input.name);
        outputDir = path.join(scratch, 'output');
        await mkdir(path.dirname(input), { recursive: true });
        await mkdir(outputDir, { recursive: true });
        const res = await fetch(job.transfer.input.url);
        if (!res.ok || !res.body) throw new Error(`input download failed: ${res.status}`);
        await pipeline(
          Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
          createWriteStream(input),
        );
        outputRef = job.transfer.outputPrefix;
      } else {
        try {
          input = await resolver.resolvePath(job.storageBackend, job.userSubdir, job.inputFile);
          outputDir = await resolver.resolvePath(job.storageBackend, job.userSubdir, job.outputDir);
        } catch (err) {
          const reason = err instanceof AppError ? err.message : (err as Error).message;
          log(`[job ${job.id}] PATH_ERROR ${reason}`);
          await call('POST', `/api/v1/jobs/${job.id}/fail`, {
            worker_id: opts.workerId,
            code: 'PATH_ERROR',
            error: reason,
          });
          return;
        }
        log(`[job ${job.id}] PATH_VALIDATED ${input} -> ${outputDir}`);
        await mkdir(outputDir, { recursive: true });
        outputRef = `${job.storageBackend}:${job.userSubdir}/${job.outputDir}`;
      }
      const code = await run(job, input, outputDir);
      if (code !== 0) {
        await call('POST', `/api/v1/jobs/${job.id}/fail`, {
          worker_id: opts.workerId,
          code: 'EXIT_CODE',
          error: `command exited with ${code}`,
        });
        return;
      }
      if (job.mode === 'transfer') {
        for (const name of await readdir(outputDir)) {
          const { url } = await call<{ url: string }>('POST', `/api/v1/jobs/${job.id}/output-url`, {
            worker_id: opts.workerId,
            name,
          });
          const put = await fetch(url, {
            method: 'PUT',
            body: await readFile(path.join(outputDir, name)),
          });
          if (!put.ok) throw new Error(`output upload failed: ${put.status}`);
        }
      }
      await call('POST', `/api/v1/jobs/${job.id}/complete`, {
        worker_id: opts.workerId,
        output_path: outputRef,
      });
      log(`[job ${job.id}] done -> ${outputRef}`);
    } catch (err) {
      await call('POST', `/api/v1/jobs/${job.id}/fail`, {
        worker_id: opts.workerId,
        code: 'WORKER_ERROR',
        error: (err as Error).message,
      }).catch(() => {});
    } finally {
      clearInterval(beat);
      await rm(scratch, { recursive: true, force: true });
    }
  }

  return {
    backends,
    /** Announces, then claims and runs jobs until stopped (or `maxJobs` ran). */
    async run(): Promise<void> {
      let done = 0;
      while (!stopping) {
        try {
          await call('POST', '/api/v1/workers/announce', {
            worker_id: opts.workerId,
            capabilities: { storage_backends: backends },
          });
          const { job } = await call<{ job: ClaimedJob | null }>(
            'POST',
            `/api/v1/workers/${encodeURIComponent(opts.workerId)}/claim`,
          );
          if (job) {
            log(`[job ${job.id}] claimed (${job.mode}, backend ${job.storageBackend})`);
            current = handle(job);
            await current;
            current = undefined;
            if (opts.maxJobs && ++done >= opts.maxJobs) return;
            continue;
          }
        } catch (err) {
          log(`worker: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 2000));
      }
    },
    /** Stops claiming; resolves once the job in hand (if any) has finished and been reported. */
    async stop(): Promise<void> {
      stopping = true;
      await current;
    },
  };
}
