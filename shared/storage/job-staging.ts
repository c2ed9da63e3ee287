/**
 * Where the jobs queue stages transfer-mode inputs and outputs in the bucket: `<prefix>_jobs/<id>/`.
 * These objects are Sluice's own working copies, so the event webhook and the rescan skip them.
 */
export const jobStagingRoot = (basePrefix: string) => `${basePrefix}_jobs/`;

/** The staging folder of one job. */
export const jobStagingPrefix = (basePrefix: string, id: number) =>
  `${jobStagingRoot(basePrefix)}${id}/`;

/** True for a key inside the jobs staging area (never ingested as a table). */
export const isJobStagingKey = (basePrefix: string, key: string) =>
  key.startsWith(jobStagingRoot(basePrefix));
