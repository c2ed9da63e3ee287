import type { Registry } from 'prom-client';

/** A prom-client metric value: what a registry renders as one exposition line. */
export interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

export interface PositionalMetricOptions<L extends readonly string[]> {
  name: string;
  help: string;
  labelNames: L;
  registers?: Registry[];
}

/**
 * The common part of this project's lightweight metrics: label values arrive positionally (in
 * `labelNames` order), a series is found by one map lookup on the joined values, and everything
 * Prometheus-shaped is built at scrape time. Subclasses register with a prom-client Registry like any
 * prom-client metric and render the same exposition text (unit tests compare them with prom-client's).
 */
export abstract class PositionalMetric<const L extends readonly string[], S extends object> {
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  protected readonly labelNames: L;
  protected readonly series = new Map<string, S & { labels: Record<string, string> }>();

  constructor(opts: PositionalMetricOptions<L>) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames;
    for (const r of opts.registers ?? []) r.registerMetric(this as never);
  }

  /** The series for these label values, created by `init` on first use. */
  protected seriesFor(
    values: { [K in keyof L]: string },
    init: () => S,
  ): S & { labels: Record<string, string> } {
    const key = values.length === 1 ? (values[0] as string) : values.join('\u0000');
    const found = this.series.get(key);
    if (found) return found;
    const labels: Record<string, string> = {};
    this.labelNames.forEach((n, i) => {
      labels[n] = values[i] as string;
    });
    const created = Object.assign(init(), { labels });
    this.series.set(key, created);
    return created;
  }

  /** This metric's values, as prom-client's `get()` returns them. */
  protected abstract values(): MetricValue[];

  /** The metric in prom-client's shape (what the registry renders). */
  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.values(),
      aggregator: this.aggregator,
    };
  }

  reset(): void {
    this.series.clear();
  }
}
