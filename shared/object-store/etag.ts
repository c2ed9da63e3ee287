/**
 * An ETag as Sluice stores and compares it: without the double quotes S3 puts around it (`"abc-2"` and
 * `abc-2` name the same object version). A missing ETag stays missing.
 */
export function unquoteEtag(etag: string): string;
export function unquoteEtag(etag: string | null | undefined): string | undefined;
export function unquoteEtag(etag: string | null | undefined): string | undefined {
  return etag == null ? undefined : etag.replaceAll('"', '');
}
