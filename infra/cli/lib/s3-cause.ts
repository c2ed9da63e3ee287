/** What a failed object-store call means for the user: the S3 error code names the setting. */
export function s3Cause(err: unknown): string {
  const e = err as {
    name?: string;
    Code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const code = e.Code ?? e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const causes: Record<string, string> = {
    InvalidAccessKeyId: 'the object store does not know MINIO_ACCESS_KEY',
    SignatureDoesNotMatch: 'MINIO_SECRET_KEY does not match MINIO_ACCESS_KEY',
    AccessDenied: 'MINIO_ACCESS_KEY may not read this bucket',
    NoSuchBucket: 'the bucket (MINIO_BUCKET) does not exist',
    RequestTimeTooSkewed: "this machine's clock is too far from the object store's",
  };
  const known = causes[code];
  if (known) return `${known} (${code})`;
  if (status === 403) return `access denied (403): check MINIO_ACCESS_KEY and MINIO_SECRET_KEY`;
  if (status === 404) return 'the bucket (MINIO_BUCKET) does not exist (404)';
  const errno = (err as { code?: string }).code;
  if (errno === 'ECONNREFUSED' || errno === 'ENOTFOUND')
    return `cannot reach MINIO_ENDPOINT (${errno})`;
  return `${code || 'error'}${status ? ` (${status})` : ''}: ${e.message ?? ''}`.trim();
}
