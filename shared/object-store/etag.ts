// S3 sends ETags quoted (`"9b2cf535f27731c974343645a3985328"`, `"…-3"` for multipart objects); Sluice
// stores, compares and answers them bare. This is the one place that knows the quoting.

/** The ETag without its quotes; `undefined` stays `undefined` (a HEAD or event without one). */
export function unquoteEtag(etag: string): string;
export function unquoteEtag(etag: string | null | undefined): string | undefined;
export function unquoteEtag(etag: string | null | undefined): string | undefined {
  return etag == null ? undefined : etag.replaceAll('"', '');
}

/** The ETag as S3 expects it in a request (CompleteMultipartUpload parts): quoted once. */
export function quoteEtag(etag: string): string {
  return `"${unquoteEtag(etag)}"`;
}
