import {
  type MetricValue,
  PositionalMetric,
  type PositionalMetricOptions,
} from './positional-metric.ts';

interface Series {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram for the per-request path. prom-client's own Histogram validates every label set and
 * hashes it on each observation; with one observation per HTTP request that was a measurable share of
 * a presign call. It renders the same `_bucket`/`_sum`/`_count` lines as prom-client's.
 */
export class RequestHistogram<const L extends readonly string[]> extends PositionalMetric<
  L,
  Series
> {
  readonly type = 'histogram';
  readonly #bounds: number[];

  constructor(opts: PositionalMetricOptions<L> & { buckets: number[] }) {
    super(opts);
    this.#bounds = [...opts.buckets].sort((a, b) => a - b);
  }

  /** Records `value` for the label values given in `labelNames` order. */
  observe(values: { [K in keyof L]: string }, value: number): void {
    if (!Number.isFinite(value)) return;
    const s = this.seriesFor(values, () => ({
      counts: new Array(this.#bounds.length + 1).fill(0),
      sum: 0,
      count: 0,
    }));
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += value;
    s.count += 1;
  }

  protected values(): MetricValue[] {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += s.counts[i] as number;
        values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return values;
  }
}
