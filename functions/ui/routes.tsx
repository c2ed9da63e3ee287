/** @jsxImportSource hono/jsx */
import { ERRORS } from '../../shared/errors.ts';
import { type AppRouter, createRouter } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import { type StatusData, StatusPage } from './status-page.tsx';

/** Reads what the page shows; tables of functions not deployed here are skipped. */
async function load(services: Services): Promise<StatusData> {
  const db = services.db;
  const exists = async (t: string) =>
    (await db.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [t])).rows[0]?.t !== null;
  const data: StatusData = {
    generatedAt: new Date().toISOString(),
    ingests: [],
    energy: [],
    datasets: [],
    rescans: [],
    workers: [],
    refreshS: 10,
  };
  if (await exists('ingest_jobs')) {
    data.ingests = (
      await db.query(
        `SELECT id, key, status, tables, rows, duration_ms AS "durationMs", error FROM ingest_jobs ORDER BY id DESC LIMIT 50`,
      )
    ).rows;
  }
  if (await exists('job_summaries')) {
    data.energy = (
      await db.query(
        `SELECT table_name AS "table", step, node, energy_to_solution_j AS "energyJ",
           time_to_solution_s AS "timeS", peak_power_w AS "peakPowerW", energy_reason AS "energyReason"
         FROM job_summaries WHERE scope = 'job' ORDER BY updated_at DESC, table_name, step LIMIT 50`,
      )
    ).rows;
  }
  if (await exists('datasets')) {
    data.datasets = (
      await db.query(
        `SELECT dataset_id, owner, (manifest->'viewer'->>'autoload')::boolean AS autoload,
           (manifest->'viewer'->>'exceeds_16k')::boolean AS "exceeds16k", manifest->'viewer'->>'preview_path' AS preview
         FROM datasets ORDER BY updated_at DESC LIMIT 50`,
      )
    ).rows;
  }
  if (await exists('rescan_runs')) {
    data.rescans = (
      await db.query(
        `SELECT id, started_at AS "startedAt", status, listed, missing, ingested, failed FROM rescan_runs ORDER BY id DESC LIMIT 20`,
      )
    ).rows.map((r) => ({ ...r, startedAt: (r.startedAt as Date).toISOString() }));
  }
  if (await exists('workers')) {
    data.workers = (
      await db.query(
        `SELECT worker_id AS "workerId", storage_backends AS "storageBackends", last_seen AS "lastSeen",
           last_seen > now() - make_interval(secs => $1) AS live FROM workers ORDER BY worker_id`,
        [services.config.workers.ttlS],
      )
    ).rows.map((w) => ({ ...w, lastSeen: (w.lastSeen as Date).toISOString() }));
  }
  return data;
}

/** `/ui`: the status page for admins; a browser passes its token as `?token=` (kept by the refresh). */
export function uiRoutes(services: Services): AppRouter {
  const r = createRouter();
  r.get('/ui', async (c) => {
    const token = c.req.query('token') ?? c.req.header('authorization')?.replace(/^Bearer\s+/i, '');
    if (!token) throw ERRORS.unauthorized('missing_token', 'Open /ui?token=<admin token>');
    const who = await services.verifyToken(token);
    if (!who.roles.includes('admin')) throw ERRORS.forbidden('The status page is for admins');
    return c.html(<StatusPage data={await load(services)} />);
  });
  return r;
}
