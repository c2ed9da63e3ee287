// Messages between an ingest (pipeline-host.ts) and its HDF5 worker thread (pipeline-worker.ts).
// `skipped` and `summaries` cross as opaque structured-cloneable data: the pipelines own their shape.
import type { OutputTable, PipelineOutput } from './pipeline.ts';
import type { PipelineName } from './pipelines.ts';

/** Host to worker. */
export type HostMessage =
  /** Open `file` and run the pipeline `rules` choose for `key` (longest prefix, else auto-detect). */
  | { type: 'run'; file: string; key: string; rules: [string, PipelineName][] }
  /** Stream table `table`'s COPY chunks, at most `credit` ahead of the host. */
  | { type: 'write'; table: number; credit: number }
  /** The host took `n` chunks. */
  | { type: 'credit'; n: number }
  /** Close the file; the thread may serve the next ingest. */
  | { type: 'close' };

/** Worker to host. */
export type WorkerMessage =
  | {
      type: 'meta';
      pipeline: PipelineName;
      skipped: PipelineOutput['skipped'];
      summaries: PipelineOutput['summaries'];
      tables: Omit<OutputTable, 'write'>[];
    }
  | { type: 'chunk'; data: string | Uint8Array }
  | { type: 'written' }
  | { type: 'closed' }
  /** `permanent` and `unsupported` are the pipelines' own refusals; `library` is HDF5 failing. */
  | { type: 'error'; kind: 'permanent' | 'unsupported' | 'library'; message: string };
