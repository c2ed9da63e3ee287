import { type MetricValue, PositionalMetric } from './positional-metric.ts';

/**
 * A counter that needs nothing from prom-client until it is scraped. Metrics are recorded from the
 * first request on, but prom-client itself (about 10 ms of module start-up, more with its default
 * process metrics) is only loaded when something reads /metrics; see registry.ts.
 */
export class LabelledCounter<const L extends readonly string[]> extends PositionalMetric<
  L,
  { value: number }
> {
  readonly type = 'counter';

  /** Adds `by` (default 1; must be finite and not negative) for the label values in `labelNames` order. */
  inc(values: { [K in keyof L]: string }, by = 1): void {
    if (!Number.isFinite(by) || by < 0) return;
    this.seriesFor(values, () => ({ value: 0 })).value += by;
  }

  protected values(): MetricValue[] {
    const values = [...this.series.values()].map((s) => ({ labels: s.labels, value: s.value }));
    // prom-client shows an unlabelled counter as 0 before its first increment.
    if (this.labelNames.length === 0 && values.length === 0) values.push({ labels: {}, value: 0 });
    return values;
  }
}
