import { describe, expect, it } from 'vitest';
import { TransferMeter } from '../../infra/cli/lib/progress.ts';

describe('TransferMeter', () => {
  it('counts resumed bytes for the bar but not for the speed, and names its phase', () => {
    let now = 0;
    const m = new TransferMeter(() => now);
    m.setPhase('checking sent parts');
    m.addSkipped(1_500_000_000);
    expect(m.speedMBps()).toBe(0);
    expect(m.done).toBe(1_500_000_000);
    m.setPhase('uploading');
    m.addSent(10_000_000);
    now = 2000;
    m.addSent(10_000_000);
    expect(m.speedMBps()).toBeCloseTo(10, 5);
    expect(m.done).toBe(1_520_000_000);
    expect(m.phase).toBe('uploading');
  });
});
