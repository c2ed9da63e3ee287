import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nonCanonicalKeyReason } from '../../functions/events/event-service.ts';

// Segments as a sender could write them: anything but '/', including dots, spaces and Unicode.
const segment = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('/'));
const safeSegment = segment.filter(
  // biome-ignore lint/suspicious/noControlCharactersInRegex: generating their absence
  (s) => s !== '.' && s !== '..' && !s.includes('\\') && !/[\u0000-\u001f\u007f]/.test(s),
);

describe('webhook keys: only canonical keys are processed', () => {
  it('a key with a . or .. or empty segment anywhere is refused, naming why', () => {
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 0, maxLength: 5 }),
        fc.array(segment, { minLength: 0, maxLength: 5 }),
        fc.constantFrom('.', '..', ''),
        (before, after, bad) => {
          const key = [...before, bad, ...after].join('/');
          const reason = nonCanonicalKeyReason(key);
          expect(reason).toBeDefined();
          expect(reason).toMatch(/segment|empty|backslash|control/);
        },
      ),
    );
  });

  it('a refused key is exactly one that could resolve elsewhere than it reads', () => {
    fc.assert(
      fc.property(fc.array(safeSegment, { minLength: 1, maxLength: 6 }), (segments) => {
        const key = segments.join('/');
        expect(nonCanonicalKeyReason(key)).toBeUndefined();
        // Resolving the accepted key as a path never moves it: it is already its own normal form.
        expect(
          new URL(`file:///base/${key.split('/').map(encodeURIComponent).join('/')}`).pathname,
        ).toBe(`/base/${key.split('/').map(encodeURIComponent).join('/')}`);
      }),
    );
  });

  it('control characters and backslashes are refused wherever they are', () => {
    fc.assert(
      fc.property(
        fc.array(safeSegment, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('\\', '\u0000', '\n', '\u001f', '\u007f'),
        fc.nat(),
        (segments, bad, at) => {
          const key = segments.join('/');
          const i = at % (key.length + 1);
          expect(nonCanonicalKeyReason(key.slice(0, i) + bad + key.slice(i))).toBeDefined();
        },
      ),
    );
  });
});
