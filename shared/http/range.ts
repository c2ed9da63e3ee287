import { ERRORS } from '../errors.ts';

/** The bytes one `Range` header asks for, both ends inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Reads a single-range `Range` header (`bytes=a-b`, `bytes=a-`, `bytes=-n`) against a file of `size`
 * bytes. No header gives `undefined` (send the whole file); a range that cannot be served throws the
 * 416 error, whose `Content-Range: bytes *\/size` tells the client the real size. An end past the file
 * is cut to its last byte, as RFC 9110 says.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (!m[1] && !m[2])) throw ERRORS.rangeNotSatisfiable(header, size);
  let start: number;
  let end: number;
  if (!m[1]) {
    // A suffix: the last n bytes.
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw ERRORS.rangeNotSatisfiable(header, size);
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  }
  if (!Number.isSafeInteger(start) || start >= size || start > end)
    throw ERRORS.rangeNotSatisfiable(header, size);
  return { start, end };
}

/** The headers of a 206 answer for `range` of a file of `size` bytes. */
export function partialHeaders(range: ByteRange, size: number): Record<string, string> {
  return {
    'content-range': `bytes ${range.start}-${range.end}/${size}`,
    'content-length': String(range.end - range.start + 1),
  };
}
