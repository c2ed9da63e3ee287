// The one rule for where a principal's files live. Pure code (no Node built-ins): the presign core also
// runs in Cloudflare workerd.
import { ERRORS } from '../errors.ts';

// Kept verbatim: letters, digits and the punctuation of user names and e-mail addresses. Every other
// character (including '%', so decoding stays unique) becomes %XX of its UTF-8 bytes.
const SAFE = /^[A-Za-z0-9._@+-]+$/;
const UNSAFE_CHAR = /[^A-Za-z0-9._@+-]/gu;
const utf8 = new TextEncoder();
const hex = (b: number) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
const MAX_SEGMENT_BYTES = 255;
// A lone surrogate has no UTF-8 form (the encoder would turn every one into U+FFFD, merging users).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The folder name of the user whose JWT `sub` is `sub`: one path segment, never `.`, `..` or empty,
 * the same on S3 keys and on filesystems. Plain names (`amick`, `ana.lopez@lab.org`) are kept as they
 * are; anything else is percent-encoded (`auth0|42` -> `auth0%7C42`, `x/../bob` -> `x%2F..%2Fbob`), so
 * the mapping is injective: two different subs never share a folder. Refuses (403) a sub whose folder
 * name would exceed 255 bytes, and one that is not well-formed Unicode.
 */
export function userFolder(sub: string): string {
  if (typeof sub !== 'string' || sub === '')
    throw ERRORS.unauthorized('bad_claims', "Token has no 'sub'");
  if (LONE_SURROGATE.test(sub)) throw ERRORS.forbidden("Token 'sub' is not well-formed Unicode");
  let folder = SAFE.test(sub)
    ? sub
    : sub.replace(UNSAFE_CHAR, (ch) => Array.from(utf8.encode(ch), hex).join(''));
  // '.' and '..' are safe characters but not safe folder names.
  if (folder === '.' || folder === '..') folder = folder.replaceAll('.', '%2E');
  if (folder.length > MAX_SEGMENT_BYTES)
    throw ERRORS.forbidden(
      `Token 'sub' is too long to name a folder (over ${MAX_SEGMENT_BYTES} bytes)`,
    );
  return folder;
}

/** The key or path prefix every file of `sub` lives under: `<base><userFolder(sub)>/`. */
export function homePrefix(base: string, sub: string): string {
  return `${base}${userFolder(sub)}/`;
}
