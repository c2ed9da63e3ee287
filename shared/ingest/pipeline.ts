import type pg from 'pg';
import type { H5File, H5Instance } from './h5-file.ts';
import type { IngestJob } from './jobs-repository.ts';
import type { Skipped } from './tabular-source.ts';

/** One table a pipeline produces. `write` pushes COPY text chunks in order. */
export interface OutputTable {
  /** Dataset path inside the file ('' for the file's single/primary table); names the table. */
  datasetPath: string;
  /** Where the data sits in the file, for the catalog (default: `datasetPath`, or `/` when ''). */
  sourcePath?: string;
  columns: { name: string; pgType: string }[];
  rows: number;
  /** Chunks are binary COPY tuples (header and trailer added by the publisher) instead of text. */
  binary?: boolean;
  write(sink: (chunk: string | Buffer) => Promise<void>): Promise<void>;
}

/**
 * Energy figures of a Slurm profile (profile pipeline), one per node and one per step ('job' scope: all
 * nodes of the step). Plain data, so it survives structured cloning. Energy fields are null exactly when
 * `energyReason` says why (no power or energy column, or a node of the step without one).
 */
export interface ProfileSummary {
  scope: 'job' | 'node';
  /** Slurm step ('batch', '0', ...) of a job file; null for a per-node file, which does not say. */
  step: string | null;
  /** The node, or for 'job' scope the step's nodes joined with ','. */
  node: string;
  nodes: number;
  energyJ: number | null;
  /** Longest node: the largest ElapsedTime of any series. */
  timeS: number;
  averagePowerW: number | null;
  peakPowerW: number | null;
  peakPowerTimeS: number | null;
  energyDelayProduct: number | null;
  energyReason: string | null;
  rows: number;
}

/** What a pipeline's `run` makes of one file (the registry in pipelines.ts adds its name). */
export interface PipelineOutput {
  tables: OutputTable[];
  skipped: Skipped[];
  /** Profile pipeline only: per step a 'job' row, then one row per node of that step. */
  summaries?: ProfileSummary[];
}

/** A file that cannot be ingested as a whole; recorded as a permanent failure with this reason. */
export class PermanentIngestError extends Error {
  override name = 'PermanentIngestError';
}

/** One pipeline, as the registry (pipelines.ts) lists it. */
export interface PipelineDef {
  /** Claims a file by its content when no `[ingest.pipelines]` rule names a pipeline for its key. */
  detect?: (file: H5File) => boolean;
  /** Reads the file in the HDF5 worker thread: tables with their columns and COPY writers. */
  run: (h5: H5Instance, file: H5File) => PipelineOutput;
  /** Writes what the pipeline adds beside its tables, inside the publish transaction. */
  afterPublish?: (
    client: pg.PoolClient,
    job: IngestJob,
    output: PipelineOutput,
    tables: IngestJob['tables'],
  ) => Promise<void>;
}
