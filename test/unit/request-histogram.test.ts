import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestHistogram } from '../../shared/metrics/request-histogram.ts';

describe('RequestHistogram', () => {
  it("renders exactly what prom-client's Histogram renders for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const opts = {
      name: 'h_seconds',
      help: 'durations',
      labelNames: ['fn', 'route'] as const,
      buckets: [0.01, 0.1, 1],
    };
    const fast = new RequestHistogram({ ...opts, registers: [ours] });
    const reference = new Histogram({ ...opts, registers: [theirs] });
    const samples: [string, string, number][] = [
      ['presign', '/a', 0.005],
      ['presign', '/a', 0.01], // on a bound: counts in that bucket
      ['presign', '/a', 0.5],
      ['presign', '/b', 3],
      ['jobs', '/a"quoted\\', 0.02],
      ['jobs', '/a"quoted\\', 0],
    ];
    for (const [fn, route, v] of samples) {
      fast.observe([fn, route], v);
      reference.observe({ fn, route }, v);
    }
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('h_seconds_bucket{le="0.01",fn="presign",route="/a"} 2');
    expect(text).toContain('h_seconds_count{fn="presign",route="/b"} 1');

    fast.reset();
    expect(await ours.metrics()).not.toContain('h_seconds_count');
  });

  it('ignores values that are not finite numbers instead of corrupting the sum', async () => {
    const r = new Registry();
    const h = new RequestHistogram({
      name: 'x',
      help: 'x',
      labelNames: ['a'] as const,
      buckets: [1],
      registers: [r],
    });
    h.observe(['v'], Number.NaN);
    h.observe(['v'], 0.5);
    expect(await r.metrics()).toContain('x_sum{a="v"} 0.5');
  });
});
