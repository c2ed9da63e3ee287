import { saveProfileSummaries } from './job-summaries.ts';
import type { PipelineDef, PipelineOutput } from './pipeline.ts';
import { looksLikeProfile, profilePipeline } from './profile-pipeline.ts';
import { tablesPipeline } from './tables-pipeline.ts';

/**
 * The ingest pipelines, by the name a job records and `[ingest.pipelines]` rules choose. Everything
 * else is derived from this object: the `PipelineName` type, the config enum, the dispatch in the
 * HDF5 worker thread (a rule's pipeline, else the first whose `detect` accepts the file, else
 * `DEFAULT_PIPELINE`) and the publisher's `afterPublish` hook, which runs inside the publish
 * transaction. Adding a pipeline = one file exporting its `run` (and `detect`, `afterPublish` if it
 * has them) plus one line here.
 */
export const pipelines = {
  profile: { detect: looksLikeProfile, run: profilePipeline, afterPublish: saveProfileSummaries },
  tables: { run: tablesPipeline },
} as const satisfies Record<string, PipelineDef>;

export type PipelineName = keyof typeof pipelines;

/** Every pipeline name, for the config enum. */
export const PIPELINE_NAMES = Object.keys(pipelines) as [PipelineName, ...PipelineName[]];

/** What a file no rule names and no `detect` claims is ingested with. */
export const DEFAULT_PIPELINE: PipelineName = 'tables';

/** A pipeline's output with the name of the pipeline that made it, as published and recorded. */
export type NamedOutput = PipelineOutput & { pipeline: PipelineName };

/** The definition of `name`, typed as the common shape (hooks optional). */
export const pipelineDef = (name: PipelineName): PipelineDef => pipelines[name];
