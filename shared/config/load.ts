import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { PIPELINE_NAMES, type PipelineName } from '../ingest/pipelines.ts';
import * as z from '../validation/zod.ts';
import { type Env, envSchema } from './schema.ts';
import {
  type AuthSettings,
  ConfigError,
  endpointUrl,
  formatIssues,
  type PresignLimits,
  parseEnv,
  presignSettingsOf,
  type S3Settings,
} from './settings.ts';

export { ConfigError, endpointUrl };

/** A storage backend as configured: a mounted filesystem (`local`/`nfs`) or a bucket prefix (`s3`). */
export interface BackendConfig {
  /** Logical name (`vast`, `scratch`, ...), the same on every machine. */
  name: string;
  /** `local` and `nfs` are mounted filesystems; `s3` is a bucket + prefix on the object store. */
  type: 'local' | 'nfs' | 's3';
  /** This machine's mount point (filesystem types). */
  basePath?: string;
  /** Bucket (s3 type); defaults to `MINIO_BUCKET`. */
  bucket?: string;
  /** Key prefix inside the bucket (s3 type). */
  prefix?: string;
  /** Free text shown in listings. */
  description?: string;
}

/** The parsed, validated settings every service receives. Secrets stay in here and nowhere else. */
export interface Config {
  port: number;
  function: Env['SLUICE_FUNCTION'];
  log: { level: Env['LOG_LEVEL']; file?: string };
  auth: AuthSettings;
  s3: S3Settings;
  database: {
    url: string;
    poolMax: number;
    connectTimeoutMs: number;
    queryTimeoutMs: number;
    lockTimeoutMs: number;
  };
  dataRoot: string;
  storage: BackendConfig[];
  /** How long a backend's probed health is reused, seconds. */
  storageHealthTtlS: number;
  viewer: { autoloadMaxBytes: number; disableAutoload: boolean };
  presign: PresignLimits;
  events: {
    webhookToken?: string;
    suffixes: string[];
    maxConcurrent: number;
    dropOnDelete: boolean;
    leaseS: number;
    /** Hard deadline of one ingest attempt. */
    ingestTimeoutMs: number;
    /** Records handled per webhook delivery; the rest are answered 503 for redelivery. */
    maxEventsPerDelivery: number;
    /** Pipeline chosen per key prefix (`tables` or `profile`); unlisted keys are auto-detected. */
    pipelines: Record<string, PipelineName>;
  };
  rescan: { token?: string; intervalS: number };
  local: { events: boolean };
  workers: { ttlS: number };
  /** SIGTERM drain: in-flight requests, then shutdown, each bounded by this. */
  drainTimeoutMs: number;
  /** Bearer token Prometheus sends to scrape `/metrics`; unset = `/metrics` refuses every scrape. */
  metrics: { token?: string };
  /** Exact origins a browser may call the API from (CORS); empty = none. */
  cors: { origins: string[] };
}

// Built on first use: most deployments set no SLUICE_CONFIG, and every schema built at module load is
// cold-start time.
const buildTomlSchema = () =>
  z.looseObject({
    storage: z.optional(
      z.record(
        z.string().check(z.regex(/^[a-z][a-z0-9_-]*$/i, 'backend names are [a-z0-9_-]')),
        z.strictObject({
          type: z.enum(['local', 'nfs', 's3']),
          base_path: z.optional(z.string().check(z.minLength(1))),
          bucket: z.optional(z.string().check(z.minLength(3))),
          prefix: z.optional(z.string()),
          description: z.optional(z.string()),
        }),
      ),
    ),
    ingest: z.optional(
      z.strictObject({
        pipelines: z.optional(z.record(z.string(), z.enum(PIPELINE_NAMES))),
      }),
    ),
  });
type TomlConfig = z.infer<ReturnType<typeof buildTomlSchema>>;
let tomlSchema: ReturnType<typeof buildTomlSchema> | undefined;

/** `SLUICE_CORS_ORIGINS` as a list (the schema checked its shape). */
function parseOrigins(list: string): string[] {
  return list
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
}

function databaseUrl(env: Env): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  const host = env.POSTGRES_HOST ?? '127.0.0.1';
  const auth = env.POSTGRES_PASSWORD
    ? `${encodeURIComponent(env.POSTGRES_USER)}:${encodeURIComponent(env.POSTGRES_PASSWORD)}`
    : encodeURIComponent(env.POSTGRES_USER);
  return `postgres://${auth}@${host}:${env.POSTGRES_PORT}/${encodeURIComponent(env.POSTGRES_DB)}`;
}

function readToml(file: string): TomlConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`SLUICE_CONFIG: cannot read '${file}': ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    throw new ConfigError(`SLUICE_CONFIG: '${file}' is not valid TOML: ${(err as Error).message}`);
  }
  tomlSchema ??= buildTomlSchema();
  const parsed = tomlSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues, `${file}: `));
  return parsed.data;
}

/** Builds the backend list: `[storage.*]` from TOML, else the legacy `SHARED_STORAGE_ROOT`, plus `data`. */
function storageBackends(env: Env, toml: TomlConfig, source: string): BackendConfig[] {
  const backends: BackendConfig[] = [];
  const tables = toml.storage ?? {};
  for (const [name, b] of Object.entries(tables)) {
    if ((b.type === 'local' || b.type === 'nfs') && !b.base_path) {
      throw new ConfigError(`${source}: [storage.${name}] type '${b.type}' requires base_path`);
    }
    backends.push({
      name,
      type: b.type,
      basePath: b.base_path ? path.resolve(b.base_path) : undefined,
      bucket: b.bucket,
      prefix: b.prefix,
      description: b.description,
    });
  }
  if (Object.keys(tables).length === 0 && env.SHARED_STORAGE_ROOT) {
    backends.push({
      name: 'default',
      type: 'local',
      basePath: path.resolve(env.SHARED_STORAGE_ROOT),
      description: 'SHARED_STORAGE_ROOT (legacy single root)',
    });
  }
  if (!backends.some((b) => b.name === 'data')) {
    backends.push({
      name: 'data',
      type: 'local',
      basePath: path.resolve(env.AIMINO_DATA_ROOT),
      description: 'AIMINO_DATA_ROOT (dataset manifests and copies)',
    });
  }
  return backends;
}

/**
 * `NAME_FILE` points at a file holding NAME's value (OpenFaaS and Docker mount secrets as files); an
 * explicit NAME wins.
 */
function withFileSecrets(
  source: Record<string, string | undefined>,
): Record<string, string | undefined> {
  const out = { ...source };
  for (const name of Object.keys(envSchema.shape)) {
    const file = source[`${name}_FILE`];
    if (out[name] !== undefined || !file) continue;
    try {
      out[name] = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(
        `${name}_FILE: cannot read '${file}': ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  }
  return out;
}

/** Parses settings from an environment-like record. Pure: no caching, no reads besides `SLUICE_CONFIG`. */
export function parseConfig(raw: Record<string, string | undefined>): Config {
  const env = parseEnv(withFileSecrets(raw));
  const toml = env.SLUICE_CONFIG ? readToml(env.SLUICE_CONFIG) : {};
  const { auth, s3, presign } = presignSettingsOf(env);
  const suffixes = env.SLUICE_INGEST_SUFFIXES.split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  return {
    port: env.PORT,
    function: env.SLUICE_FUNCTION,
    log: { level: env.LOG_LEVEL, file: env.LOG_FILE_PATH },
    auth,
    s3,
    database: {
      url: databaseUrl(env),
      poolMax: env.SLUICE_PG_POOL_MAX,
      connectTimeoutMs: env.SLUICE_PG_CONNECT_TIMEOUT_S * 1000,
      queryTimeoutMs: env.SLUICE_PG_QUERY_TIMEOUT_S * 1000,
      lockTimeoutMs: env.SLUICE_PG_LOCK_TIMEOUT_S * 1000,
    },
    dataRoot: path.resolve(env.AIMINO_DATA_ROOT),
    storage: storageBackends(env, toml, env.SLUICE_CONFIG ?? 'SLUICE_CONFIG'),
    storageHealthTtlS: env.SLUICE_STORAGE_HEALTH_TTL_S,
    viewer: {
      autoloadMaxBytes:
        env.AIMINO_AUTLOAD_MAX_BYTES ?? env.AIMINO_AUTOLOAD_MAX_BYTES ?? 500_000_000,
      disableAutoload: env.AIMINO_DISABLE_AUTOLOAD,
    },
    presign,
    events: {
      webhookToken: env.SLUICE_WEBHOOK_TOKEN,
      suffixes,
      maxConcurrent: env.SLUICE_MAX_CONCURRENT_INGESTS,
      dropOnDelete: env.SLUICE_DROP_ON_DELETE,
      leaseS: env.SLUICE_LEASE_S,
      ingestTimeoutMs: env.SLUICE_INGEST_TIMEOUT_S * 1000,
      maxEventsPerDelivery: env.SLUICE_MAX_EVENTS_PER_DELIVERY,
      pipelines: toml.ingest?.pipelines ?? {},
    },
    rescan: { token: env.SLUICE_RESCAN_TOKEN, intervalS: env.SLUICE_RESCAN_INTERVAL_S },
    local: { events: env.SLUICE_LOCAL_EVENTS },
    workers: { ttlS: env.SLUICE_WORKER_TTL_S },
    drainTimeoutMs: env.SLUICE_DRAIN_TIMEOUT_S * 1000,
    metrics: { token: env.SLUICE_METRICS_TOKEN },
    cors: { origins: parseOrigins(env.SLUICE_CORS_ORIGINS) },
  };
}

let cached: Config | undefined;

/** The process configuration, parsed from `process.env` once. Only runtime entries call this. */
export function getConfig(): Config {
  cached ??= parseConfig(process.env);
  return cached;
}
