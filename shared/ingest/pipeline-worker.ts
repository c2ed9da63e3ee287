// The HDF5 side of an ingest, run in a worker thread (see pipeline-host.ts) so that a file the library
// cannot finish (a filter it lacks, a loop in a damaged file) can be stopped by terminating the thread.
// It opens the file, runs the `tables` or `profile` pipeline and streams each table's COPY chunks to
// the host, a few at a time (the host grants credit as Postgres takes them).
import { parentPort } from 'node:worker_threads';
import type { H5File } from './h5-file.ts';
import { openH5 } from './h5-file.ts';
import { UnsupportedTypeError } from './h5-types.ts';
import { PermanentIngestError } from './pipeline.ts';
import type { HostMessage, WorkerMessage } from './pipeline-protocol.ts';
import {
  DEFAULT_PIPELINE,
  type NamedOutput,
  type PipelineName,
  pipelineDef,
  pipelines,
} from './pipelines.ts';

const port = parentPort;
if (!port) throw new Error('pipeline-worker.ts runs in a worker thread only');

const send = (msg: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

let current: { file: H5File; output: NamedOutput } | undefined;

/** The first pipeline whose `detect` claims the file, in registry order; else the default. */
function detectPipeline(file: H5File): PipelineName {
  for (const name of Object.keys(pipelines) as PipelineName[])
    if (pipelineDef(name).detect?.(file)) return name;
  return DEFAULT_PIPELINE;
}
let credit = 0;
let wake: (() => void) | undefined;

function failure(err: unknown): WorkerMessage {
  const message = (err as Error)?.message || String(err);
  if (err instanceof PermanentIngestError) return { type: 'error', kind: 'permanent', message };
  if (err instanceof UnsupportedTypeError) return { type: 'error', kind: 'unsupported', message };
  return { type: 'error', kind: 'library', message };
}

/** A chunk as its own ArrayBuffer, so it moves to the host without a copy. */
function transferable(chunk: Buffer): Uint8Array {
  if (chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength) {
    return new Uint8Array(chunk.buffer, 0, chunk.byteLength);
  }
  return new Uint8Array(chunk);
}

async function sink(chunk: string | Buffer) {
  while (credit <= 0) await new Promise<void>((r) => (wake = r));
  credit--;
  if (typeof chunk === 'string') send({ type: 'chunk', data: chunk });
  else {
    const bytes = transferable(chunk);
    send({ type: 'chunk', data: bytes }, [bytes.buffer as ArrayBuffer]);
  }
}

function closeCurrent() {
  try {
    current?.file.close();
  } catch {
    // A file the library could not fully read may refuse to close; the host retires this thread.
  }
  current = undefined;
}

async function run(msg: Extract<HostMessage, { type: 'run' }>) {
  const { file, h5 } = await openH5(msg.file).catch((err: Error) => {
    throw new PermanentIngestError(err.message);
  });
  try {
    const rules = [...msg.rules].sort((a, b) => b[0].length - a[0].length);
    const rule = rules.find(([prefix]) => msg.key.startsWith(prefix));
    const chosen = rule ? rule[1] : detectPipeline(file);
    current = { file, output: { ...pipelineDef(chosen).run(h5, file), pipeline: chosen } };
  } catch (err) {
    current = { file, output: { pipeline: DEFAULT_PIPELINE, tables: [], skipped: [] } };
    throw err;
  }
  const { output } = current;
  send({
    type: 'meta',
    pipeline: output.pipeline,
    skipped: output.skipped,
    summaries: output.summaries,
    tables: output.tables.map((t) => ({
      datasetPath: t.datasetPath,
      columns: t.columns,
      rows: t.rows,
      binary: t.binary,
      sourcePath: t.sourcePath,
    })),
  });
}

port.on('message', (msg: HostMessage) => {
  if (msg.type === 'credit') {
    credit += msg.n;
    wake?.();
    wake = undefined;
    return;
  }
  if (msg.type === 'close') {
    closeCurrent();
    send({ type: 'closed' });
    return;
  }
  const work =
    msg.type === 'run'
      ? run(msg)
      : (async () => {
          const table = current?.output.tables[msg.table];
          if (!table) throw new Error(`no table ${msg.table} in this run`);
          credit = msg.credit;
          await table.write(sink);
          send({ type: 'written' });
        })();
  work.catch((err) => send(failure(err)));
});
