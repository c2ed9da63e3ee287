import type { H5File, H5Instance } from './h5-file.ts';
import { PermanentIngestError, type PipelineOutput } from './pipeline.ts';
import { findTabularSources } from './tabular-source.ts';

/** Rows per read: about 4 MiB of records, so memory stays flat whatever the dataset size. */
const CHUNK_BYTES = 4 * 1024 * 1024;

/** The `tables` pipeline: every tabular dataset becomes a table. */
export function tablesPipeline(h5: H5Instance, file: H5File): PipelineOutput {
  const { sources, skipped } = findTabularSources(h5, file);
  if (sources.length === 0) {
    const why = skipped.length
      ? skipped.map((s) => `${s.path}: ${s.reason}`).join('; ')
      : 'the file holds no datasets';
    throw new PermanentIngestError(`no tabular data: ${why}`);
  }
  const single = sources.length === 1;
  return {
    skipped,
    tables: sources.map((s) => ({
      datasetPath: single ? '' : s.path,
      sourcePath: s.path,
      columns: s.columns,
      rows: s.rows,
      binary: s.binary === true,
      async write(sink) {
        const rowBytes = Math.max(1, s.columns.length * 8);
        const step = Math.max(1, Math.min(65_536, Math.floor(CHUNK_BYTES / rowBytes)));
        for (let start = 0; start < s.rows; start += step) {
          await sink(await s.read(start, Math.min(s.rows, start + step)));
        }
      },
    })),
  };
}
