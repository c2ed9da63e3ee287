import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { homePrefix, userFolder } from '../../shared/auth/home.ts';
import { AppError } from '../../shared/errors.ts';
import { splitRelative } from '../../shared/storage/relative-path.ts';

// Subs an attacker or an identity provider could send: path syntax, provider prefixes, e-mail
// addresses, percent signs, Unicode (format characters, combining marks, astral), plain names.
const piece = fc.oneof(
  fc.constantFrom(
    '/',
    '..',
    '.',
    '%',
    '%2F',
    '%2e%2e',
    '|',
    ':',
    '@',
    '\\',
    '\0',
    '\u202E',
    '~',
    ' ',
  ),
  fc.constantFrom('bob', 'auth0', 'google-oauth2', 'ana.lopez@lab.org', 'x', 'é', 'e\u0301', '😀'),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);
const hostileSub = fc
  .array(piece, { minLength: 1, maxLength: 8 })
  .map((parts) => parts.join(''))
  .filter((s) => s.length > 0);
const base = fc.constantFrom('', 'uploads/', 'lab/a/');

/** The folder, or undefined when the sub is refused (with a 4xx, never something else). */
function folderOrRefused(sub: string): string | undefined {
  try {
    return userFolder(sub);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).status).toBeLessThan(500);
    return undefined;
  }
}

describe('userFolder / homePrefix', () => {
  it('keeps plain user names and e-mail addresses as they are', () => {
    expect(userFolder('amick')).toBe('amick');
    expect(userFolder('ana.lopez+lab@example.org')).toBe('ana.lopez+lab@example.org');
    expect(homePrefix('uploads/', 'amick')).toBe('uploads/amick/');
  });

  it('encodes provider subs and path syntax into one segment', () => {
    expect(userFolder('auth0|42')).toBe('auth0%7C42');
    expect(userFolder('urn:x:1')).toBe('urn%3Ax%3A1');
    expect(userFolder('bob/x')).toBe('bob%2Fx');
    expect(userFolder('../bob')).toBe('..%2Fbob');
    expect(userFolder('x/../bob')).toBe('x%2F..%2Fbob');
    expect(userFolder('..')).toBe('%2E%2E');
    expect(userFolder('.')).toBe('%2E');
    expect(userFolder('a%2Fb')).toBe('a%252Fb');
    expect(userFolder('a\u202Eb')).toBe('a%E2%80%AEb');
  });

  it('refuses empty, over-long and ill-formed subs with a 4xx', () => {
    expect(() => userFolder('')).toThrow(AppError);
    expect(() => userFolder('a'.repeat(256))).toThrow(/too long/);
    expect(() => userFolder('a\uD800b')).toThrow(/well-formed/);
    expect(userFolder('a'.repeat(255))).toHaveLength(255);
  });

  it('property: a home is one safe segment below its base and decodes back to its sub', () => {
    fc.assert(
      fc.property(hostileSub, base, (sub, b) => {
        const folder = folderOrRefused(sub);
        if (folder === undefined) return;
        // One segment that the strict path validator accepts as it is (no '/', '.', '..', control
        // or format characters; already NFC because it is ASCII).
        expect(splitRelative(folder, 'folder')).toEqual([folder]);
        expect(folder).toMatch(/^[A-Za-z0-9._@+%-]+$/);
        // Injective: the folder name decodes to exactly the sub it came from.
        expect(decodeURIComponent(folder)).toBe(sub);
        const home = homePrefix(b, sub);
        expect(home.startsWith(b)).toBe(true);
        expect(home.slice(b.length).split('/')).toEqual([folder, '']);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: no user lands inside another user home, and different subs get different homes', () => {
    fc.assert(
      fc.property(hostileSub, hostileSub, base, (a, b, prefix) => {
        const fa = folderOrRefused(a);
        const fb = folderOrRefused(b);
        if (fa === undefined || fb === undefined) return;
        const ha = homePrefix(prefix, a);
        const hb = homePrefix(prefix, b);
        if (a === b) {
          expect(ha).toBe(hb);
          return;
        }
        expect(ha).not.toBe(hb);
        // Any key of b (even one whose name starts with a's folder) stays out of a's home.
        expect(`${hb}${fa}/x`.startsWith(ha)).toBe(false);
        expect(hb.startsWith(ha)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});
