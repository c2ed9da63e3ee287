import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LabelledCounter } from '../../shared/metrics/labelled-counter.ts';

describe('LabelledCounter', () => {
  it("renders exactly what prom-client's Counter renders for the same increments", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const opts = { name: 'c_total', help: 'things', labelNames: ['fn', 'kind'] as const };
    const fast = new LabelledCounter({ ...opts, registers: [ours] });
    const reference = new Counter({ ...opts, registers: [theirs] });
    expect(await ours.metrics()).toBe(await theirs.metrics());
    const samples: [string, string, number][] = [
      ['presign', 'PUT', 1],
      ['presign', 'PUT', 2],
      ['presign', 'GET', 0.5],
      ['jobs', 'a"quoted\\', 7],
    ];
    for (const [fn, kind, n] of samples) {
      fast.inc([fn, kind], n);
      reference.inc({ fn, kind }, n);
    }
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('c_total{fn="presign",kind="PUT"} 3');

    fast.reset();
    expect(await ours.metrics()).not.toContain('c_total{');
  });

  it('renders an unlabelled counter as prom-client does, 0 before the first increment', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new LabelledCounter({ name: 'b', help: 'b', labelNames: [], registers: [ours] });
    const reference = new Counter({ name: 'b', help: 'b', registers: [theirs] });
    expect(await ours.metrics()).toBe(await theirs.metrics());
    fast.inc([], 5);
    reference.inc(5);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('ignores negative and non-finite increments instead of corrupting the total', async () => {
    const r = new Registry();
    const c = new LabelledCounter({ name: 'x', help: 'x', labelNames: ['a'], registers: [r] });
    c.inc(['v'], -1);
    c.inc(['v'], Number.NaN);
    c.inc(['v'], Number.POSITIVE_INFINITY);
    c.inc(['v']);
    expect(await r.metrics()).toContain('x{a="v"} 1');
  });
});
