import * as z from '../validation/zod.ts';

/** Accepts the spellings deployments use for booleans: 1/0, true/false, yes/no, on/off. */
const flag = z.pipe(
  z.union([z.boolean(), z.string()]),
  z.transform((v: boolean | string, ctx) => {
    if (typeof v === 'boolean') return v;
    const s = v.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
    ctx.issues.push({
      code: 'custom',
      message: `expected a boolean (1/0, true/false), got '${v}'`,
      input: v,
    });
    return z.NEVER;
  }),
);

// One schema per minimum, shared by every field that uses it: schemas are immutable, and each one built
// is start-up time (this module is evaluated at every cold start).
const ints = new Map<number, ReturnType<typeof buildInt>>();
const buildInt = (min: number) => z.coerce.number().check(z.int(), z.minimum(min));
const int = (min = 0) => {
  const s = ints.get(min) ?? buildInt(min);
  ints.set(min, s);
  return s;
};
const optionalText = z.pipe(
  z.optional(z.string()),
  z.transform((v: string | undefined) =>
    v === undefined || v.trim() === '' ? undefined : v.trim(),
  ),
);

/**
 * Every setting Sluice reads from the environment. Names deployments already use are kept verbatim
 * (including the misspelt `AIMINO_AUTLOAD_MAX_BYTES`); new settings carry the `SLUICE_` prefix.
 */
export const envSchema = z.object({
  /** Port the Node server listens on. */
  PORT: z._default(int(1), 8080),
  /** Which function a shared container image runs (`presign`, `datasets`, `events`, `rescan`, `jobs`, `all`). */
  SLUICE_FUNCTION: z._default(
    z.enum(['presign', 'datasets', 'events', 'rescan', 'jobs', 'all']),
    'all',
  ),
  /** Path of a TOML file with `[storage.<name>]` backends and other structured settings. */
  SLUICE_CONFIG: optionalText,
  /** pino level. */
  LOG_LEVEL: z._default(
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    'info',
  ),
  /** Optional file that receives a copy of the JSON log. */
  LOG_FILE_PATH: optionalText,

  /** HS256 secret for user JWTs (required unless `SLUICE_JWKS_URL` is set). */
  JWT_SECRET: optionalText,
  /** JWKS endpoint of an identity provider (RS256/ES256 tokens), e.g. Keycloak's certs URL. */
  SLUICE_JWKS_URL: optionalText,
  /** Expected `iss` claim, when set. */
  SLUICE_JWT_ISSUER: optionalText,
  /** Expected `aud` claim, when set. */
  SLUICE_JWT_AUDIENCE: optionalText,
  /** Lifetime of access tokens minted by `/auth/login` and `/auth/refresh`, seconds. */
  SLUICE_ACCESS_TTL_S: z._default(int(1), 600),
  /**
   * Longest lifetime of a user access token that is accepted, seconds (default one day). Tokens must
   * carry `exp`; one whose `exp` lies further than this after its `iat` (or after now) is refused.
   */
  SLUICE_JWT_MAX_TTL_S: z._default(int(1), 86_400),
  /** Secret for bucket tokens; falls back to `JWT_SECRET`. */
  BUCKET_TOKEN_SECRET: optionalText,
  /** Lifetime of bucket tokens, minutes. */
  BUCKET_TOKEN_TTL_MIN: z._default(int(1), 60),

  /** Object store endpoint reached from inside the cluster (`host:port` or URL). */
  MINIO_ENDPOINT: optionalText,
  /** Endpoint users reach; presigned URLs are signed for this host. Defaults to `MINIO_ENDPOINT`. */
  MINIO_PUBLIC_ENDPOINT: optionalText,
  /** Endpoint for administrative calls (notification setup, multipart bookkeeping). Defaults to `MINIO_ENDPOINT`. */
  MINIO_ADMIN_ENDPOINT: optionalText,
  /** Object store access key. */
  MINIO_ACCESS_KEY: optionalText,
  /** Object store secret key. */
  MINIO_SECRET_KEY: optionalText,
  /** Use https for endpoints given as `host:port`. */
  MINIO_SECURE: z._default(flag, false),
  /** Bucket that holds uploads and ingested objects. */
  MINIO_BUCKET: z._default(z.string().check(z.minLength(3)), 'sluice'),
  /** Key prefix under which user folders live, e.g. `uploads/`. */
  MINIO_OBJECT_PREFIX: z._default(z.string(), ''),
  /** Bound on opening a connection to the object store, seconds. */
  SLUICE_S3_CONNECT_TIMEOUT_S: z._default(int(1), 3),
  /**
   * Bound on the object store's silence during a request (no response, or a download that stops
   * sending), seconds. A call is tried twice, so it fails within about twice this.
   */
  SLUICE_S3_REQUEST_TIMEOUT_S: z._default(int(1), 3),
  /** Region used for signing (no lookup call is ever made). */
  SLUICE_S3_REGION: z._default(z.string().check(z.minLength(1)), 'us-east-1'),

  /** Full Postgres URL; wins over the `POSTGRES_*` parts. */
  DATABASE_URL: optionalText,
  /** Postgres host. */
  POSTGRES_HOST: optionalText,
  /** Postgres port. */
  POSTGRES_PORT: z._default(int(1), 5432),
  /** Postgres database. */
  POSTGRES_DB: z._default(z.string(), 'sluice'),
  /** Postgres user. */
  POSTGRES_USER: z._default(z.string(), 'postgres'),
  /** Postgres password. */
  POSTGRES_PASSWORD: optionalText,
  /** Connections per process. */
  SLUICE_PG_POOL_MAX: z._default(int(1), 10),
  /** Bound on opening a Postgres connection, or waiting for a free one in the pool, seconds. */
  SLUICE_PG_CONNECT_TIMEOUT_S: z._default(int(1), 5),
  /**
   * Bound on one query, seconds: the client gives up on a server that does not answer (a hung or
   * partitioned Postgres) and the server cancels a statement that runs longer (`statement_timeout`).
   * The ingest's COPY is bounded by `SLUICE_INGEST_TIMEOUT_S` instead.
   */
  SLUICE_PG_QUERY_TIMEOUT_S: z._default(int(1), 5),
  /** Bound on waiting for a row or table lock (`lock_timeout`), seconds. */
  SLUICE_PG_LOCK_TIMEOUT_S: z._default(int(1), 5),

  /** Root under which dataset manifests are written (also the storage backend `data`). */
  AIMINO_DATA_ROOT: z._default(z.string().check(z.minLength(1)), './.sluice/data'),
  /** Files above this many bytes are not auto-loaded by the viewer (deployed spelling). */
  AIMINO_AUTLOAD_MAX_BYTES: z.optional(int(0)),
  /** Correct spelling of the same setting; the deployed spelling wins when both are set. */
  AIMINO_AUTOLOAD_MAX_BYTES: z.optional(int(0)),
  /** Disable viewer auto-load for every dataset. */
  AIMINO_DISABLE_AUTOLOAD: z._default(flag, false),
  /** Legacy single shared-storage root; becomes backend `default` when no `[storage.*]` table exists. */
  SHARED_STORAGE_ROOT: optionalText,
  /**
   * Seconds a storage backend's health (a real probe write) is reused by
   * `GET /api/v1/storage/backends` before it is probed again; `0` probes on every signed-in call.
   */
  SLUICE_STORAGE_HEALTH_TTL_S: z._default(int(0), 5),

  /** Single PUT limit; larger uploads get a multipart plan. */
  SLUICE_SINGLE_PUT_MAX_BYTES: z._default(int(1), 100 * 1024 * 1024),
  /** Preferred multipart part size in bytes (grown when a file would need more than 10,000 parts). */
  SLUICE_MULTIPART_PART_BYTES: z._default(int(5 * 1024 * 1024), 64 * 1024 * 1024),
  /** Lifetime of presigned URLs, seconds. */
  SLUICE_PRESIGN_TTL_S: z._default(int(1), 1800),
  /** Bearer token MinIO sends with webhook events (`auth_token`). */
  SLUICE_WEBHOOK_TOKEN: optionalText,
  /** Bearer token Prometheus must send to scrape `/metrics` (unset: `/metrics` answers 401 to all). */
  SLUICE_METRICS_TOKEN: optionalText,
  /**
   * Browser origins allowed to call the API cross-origin (CORS), comma-separated exact origins such as
   * `https://lab.example.org,http://localhost:5173`. Empty (the default): no cross-origin access.
   * Listed origins may send credentials; the local S3 server gets the same list as its bucket CORS.
   */
  SLUICE_CORS_ORIGINS: z._default(
    z
      .string()
      .check(
        z.regex(
          /^\s*(?:https?:\/\/[^/,\s]+(?:\s*,\s*https?:\/\/[^/,\s]+)*)?\s*$/,
          'comma-separated origins like https://lab.example.org (scheme and host, no path)',
        ),
      ),
    '',
  ),
  /** Bearer token protecting `POST /rescan`. */
  SLUICE_RESCAN_TOKEN: optionalText,
  /** Object suffixes that are ingested. */
  SLUICE_INGEST_SUFFIXES: z._default(z.string(), '.h5,.hdf5'),
  /** Concurrent ingests per process before answering 429. */
  SLUICE_MAX_CONCURRENT_INGESTS: z._default(int(1), 2),
  /**
   * Hard deadline of one ingest attempt (download, HDF5 reading, COPY), seconds. The HDF5 work runs in
   * a worker thread that is terminated at the deadline; the job is then a transient failure, retried
   * with backoff.
   */
  SLUICE_INGEST_TIMEOUT_S: z._default(int(1), 600),
  /**
   * Object records handled per webhook delivery. Past this many ingests the rest are not started and
   * the delivery is answered 503 with `Retry-After`, so the sender redelivers; records already
   * ingested are then answered `duplicate` without work.
   */
  SLUICE_MAX_EVENTS_PER_DELIVERY: z._default(int(1), 10),
  /**
   * On SIGTERM/SIGINT: how long in-flight requests may finish, then how long the shutdown itself may
   * take, seconds each; the process exits after both whatever is still running.
   */
  SLUICE_DRAIN_TIMEOUT_S: z._default(int(1), 25),
  /** Drop `job_*` tables when their object is deleted. */
  SLUICE_DROP_ON_DELETE: z._default(flag, false),
  /** How long an ingest or job lease lasts without a heartbeat, seconds. */
  SLUICE_LEASE_S: z._default(int(1), 300),
  /** Local stack: seconds between rescans (0 = off). */
  SLUICE_RESCAN_INTERVAL_S: z._default(int(0), 300),
  /** Local stack: wire the local S3 server's events to the events function. */
  SLUICE_LOCAL_EVENTS: z._default(flag, true),
  /** Seconds after which a silent worker is considered gone. */
  SLUICE_WORKER_TTL_S: z._default(int(1), 60),
});

export type Env = z.infer<typeof envSchema>;
