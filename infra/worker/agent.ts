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
import {
  type CommandTemplate,
  type CommandValues,
  commandArgv,
  commandEnv,
  parseCommand,
} from './command.ts';
import { createSession, WorkerAuthError } from './session.ts';

/** The job as the API hands it to a worker. */
interface ClaimedJob {
  id: number;
  kind: string;
  userSubdir: string;
  storageBackend: string;
  inputFile: string;
  outputDir: string;
  params: Record<string, unknown>;
  mode: 'direct' | 'transfer';
  transfer: { input: { name: string; url: string }; outputPrefix: string } | null;
}

/** Kinds a worker runs without `--exec`. */
export const BUILT_IN_KINDS = ['copy'];

export interface WorkerOptions {
  api: string;
  /** A fixed access token with the worker role (expires with the token). */
  token?: string;
  /** A worker credential, exchanged for access tokens and renewed (see `sluice worker-credential`). */
  credential?: string;
  workerId: string;
  /** This machine's storage, parsed by the shared config loader (its own `[storage.*]` mounts). */
  storage: Config['storage'];
  /**
   * Command to run, split into words without a shell; `{input}` and `{output_dir}` become arguments
   * and `SLUICE_INPUT`/`SLUICE_OUTPUT_DIR`/`SLUICE_JOB_*` are set. Otherwise the built-in kinds.
   */
  exec?: string;
  /** Kinds the `exec` command serves; default: every kind. Without `exec`: the built-in kinds. */
  kinds?: string[];
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
  // Parsed up front: a template that would hand job data to a shell stops the worker at start.
  const template: CommandTemplate | undefined = opts.exec ? parseCommand(opts.exec) : undefined;
  const kinds = template ? (opts.kinds?.length ? opts.kinds : ['*']) : BUILT_IN_KINDS;
  const session = createSession({ api: opts.api, token: opts.token, credential: opts.credential });
  const call = session.call;
  let stopping = false;
  let current: Promise<void> | undefined;

  const canRun = (kind: string) => kinds.includes('*') || kinds.includes(kind);

  /** Runs the configured command or a built-in kind; resolves with the exit status. */
  const run = (job: ClaimedJob, values: CommandValues): Promise<number> => {
    if (!template) {
      // Built-in `copy`: the output folder receives the input file.
      return copyFile(values.input, path.join(values.outputDir, path.basename(values.input))).then(
        () => 0,
      );
    }
    const [program, ...args] = commandArgv(template, values);
    return new Promise((resolve) => {
      const child = spawn(program as string, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: commandEnv(process.env, values),
        shell: false,
      });
      child.stdout.on('data', (d: Buffer) => log(`[job ${job.id}] ${d.toString().trimEnd()}`));
      child.stderr.on('data', (d: Buffer) => log(`[job ${job.id}] ${d.toString().trimEnd()}`));
      child.once('error', (err) => {
        log(`[job ${job.id}] cannot start '${program}': ${err.message}`);
        resolve(127);
      });
      child.once('close', (code) => resolve(code ?? 1));
    });
  };

  /** Reports a failure and records it in this worker's own log. */
  const fail = async (job: ClaimedJob, code: string, error: string) => {
    log(`[job ${job.id}] failed ${code}: ${error}`);
    await call('POST', `/api/v1/jobs/${job.id}/fail`, { workerId: opts.workerId, code, error });
  };

  /** Every file under `dir`, as paths relative to it (transfer-mode outputs keep their folders). */
  async function filesUnder(dir: string, rel = ''): Promise<string[]> {
    const out: string[] = [];
    for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) out.push(...(await filesUnder(dir, r)));
      else if (e.isFile()) out.push(r);
    }
    return out;
  }

  async function handle(job: ClaimedJob): Promise<void> {
    if (!canRun(job.kind)) {
      await fail(
        job,
        'KIND_NOT_SUPPORTED',
        `kind '${job.kind}' is not supported by worker '${opts.workerId}' (it runs: ${kinds.join(', ')}); nothing was run`,
      );
      return;
    }
    const beat = setInterval(() => {
      call('POST', `/api/v1/jobs/${job.id}/heartbeat`, { workerId: opts.workerId }).catch(
        (err: Error) => {
          if (err instanceof WorkerAuthError) log(`[job ${job.id}] heartbeat: ${err.message}`);
        },
      );
    }, opts.heartbeatMs ?? 10_000);
    const scratch = await mkdtemp(path.join(os.tmpdir(), `sluice-job-${job.id}-`));
    try {
      let input: string;
      let outputDir: string;
      let outputRef: string;
      if (job.mode === 'transfer' && job.transfer) {
        input = path.join(scratch, 'input', path.basename(job.transfer.input.name));
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
          await fail(
            job,
            'PATH_ERROR',
            err instanceof AppError ? err.message : (err as Error).message,
          );
          return;
        }
        log(`[job ${job.id}] PATH_VALIDATED ${input} -> ${outputDir}`);
        await mkdir(outputDir, { recursive: true });
        outputRef = `${job.storageBackend}:${job.userSubdir}/${job.outputDir}`;
      }
      const code = await run(job, {
        input,
        outputDir,
        jobId: job.id,
        kind: job.kind,
        params: job.params ?? {},
      });
      if (code !== 0) {
        await fail(job, 'EXIT_CODE', `command exited with ${code}`);
        return;
      }
      if (job.mode === 'transfer') {
        for (const name of await filesUnder(outputDir)) {
          const { url } = await call<{ url: string }>('POST', `/api/v1/jobs/${job.id}/output-url`, {
            workerId: opts.workerId,
            name,
          });
          const put = await fetch(url, {
            method: 'PUT',
            body: await readFile(path.join(outputDir, name)),
          });
          if (!put.ok) throw new Error(`output upload failed: ${put.status}`);
        }
      }
      const done = await call<{ outputPath?: string }>('POST', `/api/v1/jobs/${job.id}/complete`, {
        workerId: opts.workerId,
        outputPath: outputRef,
      });
      log(`[job ${job.id}] done -> ${done.outputPath ?? outputRef}`);
    } catch (err) {
      if (err instanceof WorkerAuthError) throw err;
      await fail(job, 'WORKER_ERROR', (err as Error).message).catch((e: Error) => {
        if (e instanceof WorkerAuthError) throw e;
        log(`[job ${job.id}] could not report the failure: ${e.message}`);
      });
    } finally {
      clearInterval(beat);
      await rm(scratch, { recursive: true, force: true });
    }
  }

  return {
    backends,
    kinds,
    /**
     * Announces, then claims and runs jobs until stopped (or `maxJobs` ran). Rejects with a
     * `WorkerAuthError` (logged once) when the worker can no longer authenticate.
     */
    async run(): Promise<void> {
      let done = 0;
      while (!stopping) {
        try {
          await call('POST', '/api/v1/workers/announce', {
            workerId: opts.workerId,
            capabilities: { storageBackends: backends, kinds },
          });
          const { job } = await call<{ job: ClaimedJob | null }>(
            'POST',
            `/api/v1/workers/${encodeURIComponent(opts.workerId)}/claim`,
          );
          if (job) {
            log(
              `[job ${job.id}] claimed (${job.kind}, ${job.mode}, backend ${job.storageBackend})`,
            );
            current = handle(job);
            await current;
            current = undefined;
            if (opts.maxJobs && ++done >= opts.maxJobs) return;
            continue;
          }
        } catch (err) {
          current = undefined;
          if (err instanceof WorkerAuthError) {
            log(`worker ${opts.workerId}: cannot authenticate, stopping: ${err.message}`);
            throw err;
          }
          log(`worker: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 2000));
      }
    },
    /** Stops claiming; resolves once the job in hand (if any) has finished and been reported. */
    async stop(): Promise<void> {
      stopping = true;
      await current?.catch(() => {});
    },
  };
}
