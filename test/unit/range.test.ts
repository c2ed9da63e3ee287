import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import { parseRange } from '../../shared/http/range.ts';

const refusal = (header: string, size: number) => {
  try {
    parseRange(header, size);
  } catch (err) {
    return err;
  }
  return undefined;
};

describe('Range headers', () => {
  it('reads the three forms and cuts an end past the file', () => {
    expect(parseRange(undefined, 10)).toBeUndefined();
    expect(parseRange('bytes=2-4', 10)).toEqual({ start: 2, end: 4 });
    expect(parseRange('bytes=7-', 10)).toEqual({ start: 7, end: 9 });
    expect(parseRange('bytes=-3', 10)).toEqual({ start: 7, end: 9 });
    expect(parseRange('bytes=-30', 10)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=5-99', 10)).toEqual({ start: 5, end: 9 });
  });

  it('refuses what cannot be served with a 416 that tells the real size', () => {
    for (const h of ['bytes=10-', 'bytes=4-2', 'bytes=-0', 'bytes=-', 'items=0-1', 'bytes=0-1,3-4'])
      expect(refusal(h, 10), h).toMatchObject({
        status: 416,
        code: 'RANGE_NOT_SATISFIABLE',
        headers: { 'Content-Range': 'bytes */10' },
      });
    expect(refusal('bytes=0-', 0)).toBeInstanceOf(AppError);
  });

  it('property: any header either maps to bytes inside the file or is a 416', () => {
    const header = fc.oneof(
      fc.tuple(fc.nat(200), fc.option(fc.nat(200))).map(([a, b]) => `bytes=${a}-${b ?? ''}`),
      fc.nat(200).map((n) => `bytes=-${n}`),
      fc.string(),
    );
    fc.assert(
      fc.property(header, fc.nat(150), (h, size) => {
        const err = refusal(h, size);
        if (err !== undefined) {
          expect(err).toMatchObject({
            status: 416,
            headers: { 'Content-Range': `bytes */${size}` },
          });
          return;
        }
        const r = parseRange(h, size) as { start: number; end: number };
        expect(r.start).toBeGreaterThanOrEqual(0);
        expect(r.start).toBeLessThanOrEqual(r.end);
        expect(r.end).toBeLessThan(size);
      }),
      { numRuns: 2000 },
    );
  });
});
