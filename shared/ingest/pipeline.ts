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

export interface PipelineOutput {
  pipeline: 'tables' | 'profile';
  tables: OutputTable[];
  skipped: Skipped[];
  /** Profile pipeline only: per step a 'job' row, then one row per node of that step. */
  summaries?: ProfileSummary[];
}

/** A file that cannot be ingested as a whole; recorded as a permanent failure with this reason. */
export class PermanentIngestError extends Error {
  override name = 'PermanentIngestError';
}
