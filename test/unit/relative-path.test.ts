import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import { splitRelative } from '../../shared/storage/relative-path.ts';

// Every format character Unicode has (category Cf), found by scanning the code space once.
const FORMAT_CHARS: string[] = [];
for (let cp = 0; cp <= 0x10ffff; cp++) {
  if (cp >= 0xd800 && cp <= 0xdfff) continue;
  const ch = String.fromCodePoint(cp);
  if (/\p{Cf}/u.test(ch)) FORMAT_CHARS.push(ch);
}
const formatChar = fc.constantFrom(...FORMAT_CHARS);
const namePart = fc.string({ unit: 'grapheme', minLength: 0, maxLength: 8 });

function refusal(rel: string): AppError | undefined {
  try {
    splitRelative(rel, 'name');
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
}

describe('splitRelative: Unicode format and control characters', () => {
  it('refuses a right-to-left override with the reason and the code point', () => {
    const err = refusal('run/a\u202Eb.h5');
    expect(err?.status).toBe(400);
    expect(err?.code).toBe('INVALID_PATH');
    expect(err?.message).toBe(
      'name contains an invisible Unicode format character (U+202E), which can disguise a name',
    );
    expect(refusal('x\u200By')?.message).toContain('U+200B');
    expect(refusal('\uFEFFdata.h5')?.message).toContain('U+FEFF');
    expect(refusal('a\u0085b')?.message).toBe('name contains control characters');
    expect(splitRelative('Größe/データ/é.h5', 'name')).toEqual(['Größe', 'データ', 'é.h5']);
  });

  it('property: a name with any format character anywhere is refused as INVALID_PATH', () => {
    expect(FORMAT_CHARS.length).toBeGreaterThan(150);
    fc.assert(
      fc.property(namePart, formatChar, namePart, (before, cf, after) => {
        const err = refusal(`${before}${cf}${after}`);
        expect(err?.code).toBe('INVALID_PATH');
        expect(err?.status).toBe(400);
      }),
      { numRuns: 3000 },
    );
  });

  it('property: every accepted segment is free of format and control characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (rel) => {
        if (refusal(rel)) return;
        for (const seg of splitRelative(rel, 'name')) {
          expect(seg).not.toMatch(/[\p{Cf}\p{Cc}]/u);
          expect(seg).not.toBe('..');
          expect(seg).not.toBe('');
        }
      }),
      { numRuns: 3000 },
    );
  });
});
