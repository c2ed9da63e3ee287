import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { RequestHistogram } from './request-histogram.ts';

/** One registry per process; every function exposes it at /metrics. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'sluice_' });

/** Observed once per HTTP request: label values in order fn, method, route, status. */
export const httpDuration = new RequestHistogram({
  name: 'sluice_http_request_duration_seconds',
  help: 'HTTP request durations by function, route and status',
  labelNames: ['fn', 'method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
  registers: [registry],
});

export const ingestRows = new Counter({
  name: 'sluice_ingest_rows_total',
  help: 'Rows written to job tables',
  labelNames: ['pipeline'] as const,
  registers: [registry],
});
export const ingestBytes = new Counter({
  name: 'sluice_ingest_bytes_total',
  help: 'Bytes of HDF5 ingested',
  registers: [registry],
});
export const ingestSeconds = new Histogram({
  name: 'sluice_ingest_duration_seconds',
  help: 'Ingest durations',
  labelNames: ['status'] as const,
  buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800],
  registers: [registry],
});
export const ingestOutcomes = new Counter({
  name: 'sluice_ingest_outcomes_total',
  help: 'Ingest deliveries by outcome',
  labelNames: ['status'] as const,
  registers: [registry],
});
export const rescanObjects = new Counter({
  name: 'sluice_rescan_objects_total',
  help: 'Rescan: objects listed, missing, ingested',
  labelNames: ['kind'] as const,
  registers: [registry],
});
// Presigned URLs are counted in a plain map (one per URL, on the hot path) and folded into the
// Prometheus counter when it is scraped.
const presignTally = new Map<string, number>();
new Counter({
  name: 'sluice_presigns_total',
  help: 'Presigned URLs issued',
  labelNames: ['method'] as const,
  registers: [registry],
  collect() {
    for (const [method, n] of presignTally) this.inc({ method }, n);
    presignTally.clear();
  },
});
export const presignsIssued = {
  inc(method: string): void {
    presignTally.set(method, (presignTally.get(method) ?? 0) + 1);
  },
};
export const jobsByStatus = new Gauge({
  name: 'sluice_jobs',
  help: 'Compute jobs by status (sampled at scrape)',
  labelNames: ['status'] as const,
  registers: [registry],
});
export const poolConnections = new Gauge({
  name: 'sluice_pg_pool_connections',
  help: 'Postgres pool connections',
  labelNames: ['state'] as const,
  registers: [registry],
});
