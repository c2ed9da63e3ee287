import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** One registry per process; every function exposes it at /metrics. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'sluice_' });

export const httpDuration = new Histogram({
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
export const presignsIssued = new Counter({
  name: 'sluice_presigns_total',
  help: 'Presigned URLs issued',
  labelNames: ['method'] as const,
  registers: [registry],
});
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
