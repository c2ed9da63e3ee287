import type { apiClient } from './api.ts';

type Api = ReturnType<typeof apiClient>;

/** An ingest job as `GET /api/v1/ingests` lists it (the fields the CLI shows). */
export interface IngestRow {
  id: number;
  key: string;
  status: string;
  tables: { table: string; rows: number }[];
  rows: number | null;
  error: string | null;
}

/** Statuses after which an ingest changes no more (until the object changes). */
export const FINISHED = new Set(['done', 'failed', 'source_deleted']);

/** One line per job: key, status, tables with their rows, total rows, the failure reason. */
export function ingestLine(j: IngestRow): string {
  const tables = j.tables.map((t) => `${t.table}(${t.rows})`).join(',') || '-';
  return [j.key, j.status, tables, j.rows ?? '-', j.error ?? ''].join('\t');
}

/** The newest job for `key` (exact), or undefined while none exists. */
export async function latestIngest(api: Api, key: string): Promise<IngestRow | undefined> {
  const { jobs } = await api.call<{ jobs: IngestRow[] }>(
    'GET',
    `/api/v1/ingests?key=${encodeURIComponent(key)}&limit=1`,
  );
  return jobs[0];
}

/**
 * Polls until the newest ingest of each key has finished or `timeoutMs` has passed; a key with no
 * finished job by then is returned as `undefined` (timed out).
 */
export async function waitForIngests(
  api: Api,
  keys: string[],
  timeoutMs: number,
  intervalMs = 500,
): Promise<Map<string, IngestRow | undefined>> {
  const deadline = Date.now() + timeoutMs;
  const out = new Map<string, IngestRow | undefined>(keys.map((k) => [k, undefined]));
  for (;;) {
    for (const key of keys) {
      if (out.get(key)) continue;
      const job = await latestIngest(api, key);
      if (job && FINISHED.has(job.status)) out.set(key, job);
    }
    if ([...out.values()].every(Boolean) || Date.now() >= deadline) return out;
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, deadline - Date.now())));
  }
}
