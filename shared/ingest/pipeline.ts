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

/** Per-job energy figures (profile pipeline). */
export interface ProfileSummary {
  node: string;
  energyJ: number;
  timeS: number;
  averagePowerW: number;
  peakPowerW: number;
  peakPowerTimeS: number;
  energyDelayProduct: number;
  rows: number;
}

export interface PipelineOutput {
  pipeline: 'tables' | 'profile';
  tables: OutputTable[];
  skipped: Skipped[];
  summary?: ProfileSummary;
}

/** A file that cannot be ingested as a whole; recorded as a permanent failure with this reason. */
export class PermanentIngestError extends Error {
  override name = 'PermanentIngestError';
}
