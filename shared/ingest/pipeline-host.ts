import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UnsupportedTypeError } from './h5-types.ts';
import { type OutputTable, PermanentIngestError } from './pipeline.ts';
import type { HostMessage, WorkerMessage } from './pipeline-protocol.ts';
import type { NamedOutput, PipelineName } from './pipelines.ts';

/** The attempt ran past `SLUICE_INGEST_TIMEOUT_S`; its HDF5 thread was terminated. Transient. */
export class IngestTimeoutError extends Error {
  override name = 'IngestTimeoutError';
}

/** Chunks (about 4 MiB each) a worker may have in flight ahead of Postgres. */
const CREDIT = 3;
/** Finished threads kept warm (h5wasm loaded) for the next ingest. */
const MAX_IDLE = 2;

const idle: Worker[] = [];
const all = new Set<Worker>();

/**
 * The worker's code: `dist/ingest-worker.cjs` beside a built function bundle, else the TypeScript
 * source, loaded through tsx's loader registered inside the thread (tests, `npm start`, benchmarks;
 * Node 20 does not pass a parent's loader hooks on to worker threads).
 */
function spawnWorker(): Worker {
  const built = new URL('../ingest-worker.cjs', import.meta.url);
  let worker: Worker;
  if (built.protocol === 'file:' && existsSync(built)) worker = new Worker(built);
  else {
    const tsxApi = createRequire(import.meta.url)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs');
    const api = JSON.stringify(pathToFileURL(tsxApi).href);
    const source = JSON.stringify(new URL('./pipeline-worker.ts', import.meta.url).href);
    worker = new Worker(
      `import(${api}).then((t) => { t.register(); return import(${source}); });`,
      {
        eval: true,
      },
    );
  }
  all.add(worker);
  worker.once('exit', () => {
    all.delete(worker);
    const at = idle.indexOf(worker);
    if (at >= 0) idle.splice(at, 1);
  });
  // Idle threads never keep the process alive.
  worker.unref();
  return worker;
}

function workerError(m: Extract<WorkerMessage, { type: 'error' }>): Error {
  if (m.kind === 'permanent') return new PermanentIngestError(m.message);
  if (m.kind === 'unsupported') return new UnsupportedTypeError(m.message);
  return new Error(m.message);
}

/** One pipeline run in a worker thread: its output (tables stream from the thread) and its end. */
export interface PipelineRun {
  output: NamedOutput;
  /**
   * Ends the run. `clean` (every table was written and published) keeps the thread for the next
   * ingest; otherwise it is terminated (its library instance may be in a bad state, or it is busy).
   */
  end(clean: boolean): Promise<void>;
}

/**
 * Opens `file` in a worker thread and runs the pipeline chosen for `key` there. `signal` is the
 * attempt's deadline: when it fires the thread is terminated (the HDF5 work really stops, whatever
 * the library is doing) and every pending call rejects with the signal's reason.
 */
export async function runPipelineInWorker(opts: {
  file: string;
  key: string;
  rules: [string, PipelineName][];
  signal: AbortSignal;
}): Promise<PipelineRun> {
  const { signal } = opts;
  const worker = idle.pop() ?? spawnWorker();
  let broken: Error | undefined;
  let handler: ((m: WorkerMessage) => void) | undefined;
  let rejectPending: ((err: Error) => void) | undefined;
  const breakWith = (err: Error) => {
    broken ??= err;
    rejectPending?.(broken);
  };
  const onMessage = (m: WorkerMessage) => handler?.(m);
  const onError = (err: Error) => breakWith(new Error(`HDF5 worker failed: ${err.message}`));
  const onExit = (code: number) => breakWith(new Error(`HDF5 worker stopped (exit ${code})`));
  const onAbort = () => {
    breakWith(
      signal.reason instanceof Error ? signal.reason : new IngestTimeoutError('ingest stopped'),
    );
    void worker.terminate();
  };
  worker.on('message', onMessage);
  worker.on('error', onError);
  worker.on('exit', onExit);
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) onAbort();
  const post = (m: HostMessage) => worker.postMessage(m);

  /** Waits until `handle` resolves; a worker error, exit or the deadline rejects. */
  const exchange = <T>(
    start: () => void,
    handle: (m: WorkerMessage, resolve: (v: T) => void, reject: (e: Error) => void) => void,
  ) =>
    new Promise<T>((resolve, reject) => {
      if (broken) return reject(broken);
      rejectPending = reject;
      handler = (m) => (m.type === 'error' ? reject(workerError(m)) : handle(m, resolve, reject));
      start();
    });

  const detach = () => {
    worker.off('message', onMessage);
    worker.off('error', onError);
    worker.off('exit', onExit);
    signal.removeEventListener('abort', onAbort);
    handler = undefined;
    rejectPending = undefined;
  };
  const end = async (clean: boolean) => {
    if (clean && !broken) {
      const closed = await exchange<boolean>(
        () => post({ type: 'close' }),
        (m, resolve) => m.type === 'closed' && resolve(true),
      ).catch(() => false);
      detach();
      if (closed && idle.length < MAX_IDLE) {
        idle.push(worker);
        return;
      }
    }
    detach();
    await worker.terminate();
  };

  let meta: Extract<WorkerMessage, { type: 'meta' }>;
  try {
    meta = await exchange(
      () => post({ type: 'run', file: opts.file, key: opts.key, rules: opts.rules }),
      (m, resolve: (v: Extract<WorkerMessage, { type: 'meta' }>) => void) =>
        m.type === 'meta' && resolve(m),
    );
  } catch (err) {
    await end(false);
    throw err;
  }

  const tables: OutputTable[] = meta.tables.map((t, i) => ({
    ...t,
    write: (sink) =>
      exchange<void>(
        () => post({ type: 'write', table: i, credit: CREDIT }),
        (() => {
          // Chunks go to Postgres in order, one at a time; each taken chunk returns one credit.
          let chain = Promise.resolve();
          return (m, resolve, reject) => {
            if (m.type === 'chunk') {
              const { data } = m;
              const chunk =
                typeof data === 'string'
                  ? data
                  : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
              chain = chain.then(() => sink(chunk)).then(() => post({ type: 'credit', n: 1 }));
              chain.catch(reject);
            } else if (m.type === 'written') chain.then(() => resolve(), reject);
          };
        })(),
      ),
  }));
  return {
    output: { pipeline: meta.pipeline, tables, skipped: meta.skipped, summaries: meta.summaries },
    end,
  };
}

/** HDF5 threads alive in this process (busy or idle), for the status of a stopped ingest. */
export function pipelineWorkerCount(): { alive: number; idle: number } {
  return { alive: all.size, idle: idle.length };
}

/** Terminates every HDF5 thread (shutdown). */
export async function stopPipelineWorkers(): Promise<void> {
  idle.length = 0;
  await Promise.all([...all].map((w) => w.terminate()));
}
