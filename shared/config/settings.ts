// The settings every runtime shares, parsed from an environment-like record by the one schema. Pure
// code (no Node built-ins): the Workers entry parses its bindings here, the Node loader (load.ts) builds
// the full Config on top, so the two cannot read a variable differently.
import type * as z from '../validation/zod.ts';
import { type Env, envSchema } from './schema.ts';

/** Raised when settings are missing or malformed; the message names every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Token verification settings. */
export interface AuthSettings {
  jwtSecret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  accessTtlS: number;
  /** Longest accepted lifetime of a user access token (`exp - iat`, and `exp - now`), seconds. */
  maxTokenTtlS: number;
  bucketTokenSecret?: string;
  bucketTokenTtlMin: number;
}

/** Object store settings. */
export interface S3Settings {
  endpoint: string;
  publicEndpoint: string;
  adminEndpoint: string;
  accessKey?: string;
  secretKey?: string;
  bucket: string;
  prefix: string;
  region: string;
  /** Opening a connection to the object store, milliseconds. */
  connectTimeoutMs: number;
  /** Silence within one object store request or download, milliseconds. */
  requestTimeoutMs: number;
}

/** Presigned URL settings. */
export interface PresignLimits {
  singlePutMaxBytes: number;
  ttlS: number;
  partBytes: number;
}

/** What the presign core needs, in every runtime. */
export interface PresignSettings {
  auth: AuthSettings;
  s3: S3Settings;
  presign: PresignLimits;
}

/** Turns `host:port` or a URL into a URL string (its origin), honouring `MINIO_SECURE` for the bare form. */
export function endpointUrl(value: string, secure: boolean): string {
  const withScheme = /^https?:\/\//i.test(value)
    ? value
    : `${secure ? 'https' : 'http'}://${value}`;
  const url = new URL(withScheme);
  return url.origin;
}

/** `where<path>: message; ...` for every zod issue. */
export function formatIssues(issues: z.core.$ZodIssue[], where: string): string {
  return issues
    .map((i) => `${where}${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** Validates the environment with the one schema; throws a ConfigError naming every bad variable. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  // Parsed once per process: zod's compiled fast path would cost more to build than it saves.
  const parsed = envSchema.safeParse(source, { jitless: true });
  if (!parsed.success)
    throw new ConfigError(`Invalid configuration: ${formatIssues(parsed.error.issues, '')}`);
  const env = parsed.data;
  if (!env.JWT_SECRET && !env.SLUICE_JWKS_URL) {
    throw new ConfigError('Invalid configuration: JWT_SECRET: required (or set SLUICE_JWKS_URL)');
  }
  return env;
}

/** The auth, object store and presign sections of the settings, from a validated environment. */
export function presignSettingsOf(env: Env): PresignSettings {
  const endpoint = endpointUrl(env.MINIO_ENDPOINT ?? '127.0.0.1:9000', env.MINIO_SECURE);
  return {
    auth: {
      jwtSecret: env.JWT_SECRET,
      jwksUrl: env.SLUICE_JWKS_URL,
      issuer: env.SLUICE_JWT_ISSUER,
      audience: env.SLUICE_JWT_AUDIENCE,
      accessTtlS: env.SLUICE_ACCESS_TTL_S,
      maxTokenTtlS: env.SLUICE_JWT_MAX_TTL_S,
      bucketTokenSecret: env.BUCKET_TOKEN_SECRET ?? env.JWT_SECRET,
      bucketTokenTtlMin: env.BUCKET_TOKEN_TTL_MIN,
    },
    s3: {
      endpoint,
      publicEndpoint: env.MINIO_PUBLIC_ENDPOINT
        ? endpointUrl(env.MINIO_PUBLIC_ENDPOINT, env.MINIO_SECURE)
        : endpoint,
      adminEndpoint: env.MINIO_ADMIN_ENDPOINT
        ? endpointUrl(env.MINIO_ADMIN_ENDPOINT, env.MINIO_SECURE)
        : endpoint,
      accessKey: env.MINIO_ACCESS_KEY,
      secretKey: env.MINIO_SECRET_KEY,
      bucket: env.MINIO_BUCKET,
      prefix: env.MINIO_OBJECT_PREFIX,
      region: env.SLUICE_S3_REGION,
      connectTimeoutMs: env.SLUICE_S3_CONNECT_TIMEOUT_S * 1000,
      requestTimeoutMs: env.SLUICE_S3_REQUEST_TIMEOUT_S * 1000,
    },
    presign: {
      singlePutMaxBytes: env.SLUICE_SINGLE_PUT_MAX_BYTES,
      ttlS: env.SLUICE_PRESIGN_TTL_S,
      partBytes: env.SLUICE_MULTIPART_PART_BYTES,
    },
  };
}

/** Parses the presign settings from an environment-like record (Workers bindings, tests). */
export function parsePresignSettings(raw: Record<string, string | undefined>): PresignSettings {
  return presignSettingsOf(parseEnv(raw));
}
