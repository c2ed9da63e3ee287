// Pure path-segment validation (no Node built-ins): shared by the filesystem resolver and by the
// presign function, which also runs in Cloudflare workerd.
import { ERRORS } from '../errors.ts';

const utf8 = new TextEncoder();
const ASCII = /^[\x20-\x7e]*$/;
// Format characters (U+202E RIGHT-TO-LEFT OVERRIDE, zero-width spaces and joiners, U+FEFF, ...) are
// invisible or reorder what is shown, so `a\u202Eh5.exe` displays as another name: refused like controls.
const FORMAT_CHAR = /\p{Cf}/u;
const C1_CONTROL = /[\x80-\x9f]/;

/**
 * Splits a relative reference into validated segments. Refuses everything that could name a place
 * other than "below the base": absolute paths, drive letters, `..`/`.` segments, NUL and control
 * characters (C0 and C1), Unicode format characters (category Cf: bidirectional overrides, zero-width
 * characters), backslashes, empty segments (`a//b`, trailing `/`) and over-long names.
 * Percent-encoded text is NOT decoded: `%2e%2e` is a literal (odd, but harmless) file name.
 */
export function splitRelative(rel: string, field = 'path'): string[] {
  if (typeof rel !== 'string' || rel.length === 0) throw ERRORS.invalidPath(`${field} is empty`);
  if (rel.length > 4096) throw ERRORS.invalidPath(`${field} is longer than 4096 characters`);
  if (rel.includes('\0')) throw ERRORS.invalidPath(`${field} contains a NUL byte`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (/[\x01-\x1f\x7f]/.test(rel)) throw ERRORS.invalidPath(`${field} contains control characters`);
  if (rel.includes('\\')) throw ERRORS.invalidPath(`${field} contains a backslash`);
  if (rel.startsWith('/') || /^[a-zA-Z]:/.test(rel))
    throw ERRORS.invalidPath(`${field} must be relative`);
  // Plain ASCII (the common case) is already in NFC, one byte per character and free of Cf characters.
  const ascii = ASCII.test(rel);
  if (!ascii) {
    if (C1_CONTROL.test(rel)) throw ERRORS.invalidPath(`${field} contains control characters`);
    const cf = FORMAT_CHAR.exec(rel);
    if (cf) {
      const code = (cf[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
      throw ERRORS.invalidPath(
        `${field} contains an invisible Unicode format character (U+${code}), which can disguise a name`,
      );
    }
  }
  const segments = (ascii ? rel : rel.normalize('NFC')).split('/');
  for (const s of segments) {
    if (s === '') throw ERRORS.invalidPath(`${field} has an empty segment`);
    if (s === '..') throw ERRORS.pathEscapes();
    if (s === '.') throw ERRORS.invalidPath(`${field} has a '.' segment`);
    // A UTF-16 unit is at most 3 UTF-8 bytes, so up to 85 units cannot exceed 255 bytes.
    if (s.length > 255 || (!ascii && s.length > 85 && utf8.encode(s).length > 255))
      throw ERRORS.invalidPath(`${field} has a segment over 255 bytes`);
  }
  return segments;
}
