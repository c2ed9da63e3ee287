import type { Registry } from 'prom-client';

interface Series {
  labels: Record<string, string>;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram for the per-request path. prom-client's own Histogram validates every label set and
 * hashes it on each observation; with one observation per HTTP request that was a measurable share of
 * a presign call. Here label values arrive positionally, the series is found by one joined-string map
 * lookup, and the work of shaping Prometheus output happens at scrape time. It registers with a
 * prom-client Registry like any other metric and renders the same `_bucket`/`_sum`/`_count` lines.
 */
export class RequestHistogram<const L extends readonly string[]> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly #labelNames: L;
  readonly #bounds: number[];
  readonly #series = new Map<string, Series>();

  constructor(opts: {
    name: string;
    help: string;
    labelNames: L;
    buckets: number[];
    registers: Registry[];
  }) {
    this.name = opts.name;
    this.help = opts.help;
    this.#labelNames = opts.labelNames;
    this.#bounds = [...opts.buckets].sort((a, b) => a - b);
    for (const r of opts.registers) r.registerMetric(this as never);
  }

  /** Records `value` for the label values given in `labelNames` order. */
  observe(values: { [K in keyof L]: string }, value: number): void {
    if (!Number.isFinite(value)) return;
    const key = values.join('\u0000');
    let s = this.#series.get(key);
    if (!s) {
      const labels: Record<string, string> = {};
      this.#labelNames.forEach((n, i) => {
        labels[n] = values[i] as string;
      });
      s = { labels, counts: new Array(this.#bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += value;
    s.count += 1;
  }

  /** The metric in prom-client's shape (what the registry renders). */
  async get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] =
      [];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += s.counts[i] as number;
        values.push({
          labels: { le, ...s.labels },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      values.push({
        labels: { le: '+Inf', ...s.labels },
        value: s.count,
        metricName: `${this.name}_bucket`,
      });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    };
  }

  reset(): void {
    this.#series.clear();
  }
}
