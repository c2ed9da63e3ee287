import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSlurmNoVal } from '../../shared/ingest/profile-pipeline.ts';

describe('Slurm NO_VAL sentinels in profile fields', () => {
  it('recognises NO_VAL64 / INFINITE64 as uint64, as doubles and scaled to KiB, MiB, GiB', () => {
    const sentinels = [2n ** 64n - 1n, 2n ** 64n - 2n].flatMap((v) =>
      [0n, 10n, 20n, 30n].map((shift) => Number(v >> shift)),
    );
    // 2^44-1 is the real GPUMemMB of test/fixtures/slurm; 1.8446744073709552e19 its GPUUtilization.
    expect(sentinels).toContain(17_592_186_044_415);
    expect(sentinels).toContain(1.8446744073709552e19);
    for (const v of sentinels) expect(isSlurmNoVal(v), String(v)).toBe(true);
  });

  it('never takes a plausible reading for a sentinel', () => {
    // Below 2^34 - 1: 16 TiB in KiB, 17 GHz in kHz, 1.7e10 s; every field of a real profile fits.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 34 - 2 }), (v) => !isSlurmNoVal(v)),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.double({ min: -(2 ** 34), max: 2 ** 34 - 2, noNaN: true }),
        (v) => !isSlurmNoVal(v),
      ),
      { numRuns: 2000 },
    );
  });
});
