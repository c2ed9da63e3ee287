import type { Gauge, Registry } from 'prom-client';
import { LabelledCounter } from './labelled-counter.ts';
import { RequestHistogram } from './request-histogram.ts';

// Metrics are recorded into the lightweight holders below from the first request on. prom-client, which
// renders them (and adds the process metrics), is loaded on the first scrape of /metrics: a function's
// cold start does not pay for it. Process metrics therefore begin at that first scrape; Prometheus
// scrapes a new pod within one interval, and CPU, memory and start time are read fresh at every scrape.

/** Observed once per HTTP request: label values in order fn, method, route, status. */
export const httpDuration = new RequestHistogram({
  name: 'sluice_http_request_duration_seconds',
  help: 'HTTP request durations by function, route and status',
  labelNames: ['fn', 'method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
});

export const ingestRows = new LabelledCounter({
  name: 'sluice_ingest_rows_total',
  help: 'Rows written to job tables',
  labelNames: ['pipeline'] as const,
});
export const ingestBytes = new LabelledCounter({
  name: 'sluice_ingest_bytes_total',
  help: 'Bytes of HDF5 ingested',
  labelNames: [] as const,
});
export const ingestSeconds = new RequestHistogram({
  name: 'sluice_ingest_duration_seconds',
  help: 'Ingest durations',
  labelNames: ['status'] as const,
  buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800],
});
export const ingestOutcomes = new LabelledCounter({
  name: 'sluice_ingest_outcomes_total',
  help: 'Ingest deliveries by outcome',
  labelNames: ['status'] as const,
});
export const rescanObjects = new LabelledCounter({
  name: 'sluice_rescan_objects_total',
  help: 'Rescan: objects listed, missing, ingested',
  labelNames: ['kind'] as const,
});
/** One per presigned URL (on the presign hot path). */
export const presignsIssued = new LabelledCounter({
  name: 'sluice_presigns_total',
  help: 'Presigned URLs issued',
  labelNames: ['method'] as const,
});

const recorded = [
  httpDuration,
  ingestRows,
  ingestBytes,
  ingestSeconds,
  ingestOutcomes,
  rescanObjects,
  presignsIssued,
];

/** The registry /metrics renders, with the gauges it samples at scrape time. */
export interface MetricsRegistry {
  registry: Registry;
  jobsByStatus: Gauge<'status'>;
  poolConnections: Gauge<'state'>;
}

let loading: Promise<MetricsRegistry> | undefined;

/** Loads prom-client and builds the process's registry on first call; the same one afterwards. */
export function metricsRegistry(): Promise<MetricsRegistry> {
  loading ??= import('prom-client').then(({ collectDefaultMetrics, Gauge, Registry }) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'sluice_' });
    for (const m of recorded) registry.registerMetric(m as never);
    return {
      registry,
      jobsByStatus: new Gauge({
        name: 'sluice_jobs',
        help: 'Compute jobs by status (sampled at scrape)',
        labelNames: ['status'] as const,
        registers: [registry],
      }),
      poolConnections: new Gauge({
        name: 'sluice_pg_pool_connections',
        help: 'Postgres pool connections',
        labelNames: ['state'] as const,
        registers: [registry],
      }),
    };
  });
  return loading;
}

/** Whether anything has loaded prom-client yet (a test checks that starting a function does not). */
export function metricsRegistryLoaded(): boolean {
  return loading !== undefined;
}
