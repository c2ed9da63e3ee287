// Request and response shapes of the jobs API. Fields are camelCase; the snake_case names that
// existing clients send in request bodies are accepted as aliases, renamed in `withAliases` only.
import { json } from '../../shared/http/api-router.ts';
import * as z from '../../shared/validation/zod.ts';

type Schema = z.ZodMiniType;

/**
 * `schema` that also accepts each snake_case alias of `aliases` (`{ input_file: 'inputFile' }`),
 * renamed before validation; a body giving both spellings keeps the camelCase one. The OpenAPI
 * document shows `schema` (zod documents a pipe from a transform by its output).
 */
export function withAliases<S extends Schema>(schema: S, aliases: Record<string, string>) {
  return z.pipe(
    z.transform((v: unknown) => renameAliases(v, aliases)),
    schema,
  );
}

/** Renames the snake_case keys of a plain object; anything else is left for the schema to refuse. */
export function renameAliases(v: unknown, aliases: Record<string, string>): unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, value] of Object.entries(v)) {
    const name = Object.hasOwn(aliases, k) ? (aliases[k] as string) : k;
    if (name !== k && Object.hasOwn(v, name)) continue;
    out[name] = value;
  }
  return out;
}

/** The aliases named in a route's description, so the document says what is still accepted. */
export const aliasNote = (aliases: Record<string, string>) =>
  `Also accepted (older clients): ${Object.entries(aliases)
    .map(([snake, camel]) => `\`${snake}\` for \`${camel}\``)
    .join(', ')}.`;

export const workerIdSchema = z
  .string()
  .check(z.regex(/^[A-Za-z0-9._:-]{1,128}$/, 'letters, digits, . _ : -'));
const path4k = z.string().check(z.minLength(1), z.maxLength(4096));

export const createJobAliases = {
  storage_backend: 'storageBackend',
  user_subdir: 'userSubdir',
  input_file: 'inputFile',
  output_dir: 'outputDir',
};
export const createJobBody = z.strictObject({
  kind: z.string().check(z.regex(/^[a-z0-9_-]{1,64}$/)),
  storageBackend: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
  userSubdir: z.optional(z.string().check(z.minLength(1), z.maxLength(255))),
  inputFile: path4k,
  outputDir: path4k,
  params: z._default(z.record(z.string(), z.unknown()), {}),
});

export const workerAliases = { worker_id: 'workerId', output_path: 'outputPath' };
const workerBody = z.strictObject({ workerId: workerIdSchema });
export const heartbeatBody = workerBody;
export const completeBody = z.extend(workerBody, { outputPath: path4k });
export const failBody = z.extend(workerBody, {
  code: z._default(z.string().check(z.regex(/^[A-Z_]{1,64}$/)), 'FAILED'),
  error: z.string().check(z.minLength(1), z.maxLength(4000)),
});
export const outputUrlBody = z.extend(workerBody, {
  name: z.string().check(z.minLength(1), z.maxLength(1024)),
});

export const announceAliases = { worker_id: 'workerId', storage_backends: 'storageBackends' };
export const announceBody = z.strictObject({
  workerId: workerIdSchema,
  capabilities: withAliases(
    z.strictObject({
      storageBackends: z
        .array(z.string().check(z.minLength(1), z.maxLength(64)))
        .check(z.maxLength(64)),
      /** Kinds this worker runs; `*` is every kind. Omitted: every kind (older agents). */
      kinds: z.optional(
        z
          .array(z.string().check(z.regex(/^(\*|[a-z0-9_-]{1,64})$/)))
          .check(z.minLength(1), z.maxLength(64)),
      ),
      gpu: z.optional(z.boolean()),
      labels: z.optional(z.record(z.string(), z.string())),
    }),
    announceAliases,
  ),
});

// Answers. Timestamps are ISO strings in JSON.
const when = z.nullable(z.string());
const jobStatus = z.enum(['queued', 'running', 'done', 'failed']);

export const jobSchema = z.object({
  id: z.number(),
  kind: z.string(),
  owner: z.string(),
  userSubdir: z.string(),
  storageBackend: z.string(),
  inputFile: z.string(),
  outputDir: z.string(),
  params: z.record(z.string(), z.unknown()),
  status: jobStatus,
  mode: z.nullable(z.enum(['direct', 'transfer'])),
  workerId: z.nullable(z.string()),
  attempts: z.number(),
  leaseExpiresAt: when,
  outputPath: z.nullable(z.string()),
  errorCode: z.nullable(z.string()),
  error: z.nullable(z.string()),
  /** Transfer mode: presigned URLs for the staged input and where outputs go. */
  transfer: z.nullable(z.record(z.string(), z.unknown())),
  createdAt: z.string(),
  startedAt: when,
  finishedAt: when,
});
export const createdJobSchema = z.object({
  jobId: z.number(),
  status: jobStatus,
  job: jobSchema,
  /** Set when no live worker runs this kind. */
  warning: z.optional(z.string()),
});
export const jobListSchema = z.object({ jobs: z.array(jobSchema) });
export const claimSchema = z.object({ job: z.nullable(jobSchema) });
export const heartbeatSchema = z.object({ id: z.number(), leaseExpiresAt: z.string() });
export const outputUrlSchema = z.object({ url: z.string(), key: z.string() });
export const announcedSchema = z.object({
  workerId: z.string(),
  /** A worker unseen for this long is gone. */
  ttlS: z.number(),
  /** A job's lease without a heartbeat. */
  leaseS: z.number(),
});
export const workerListSchema = z.object({
  workers: z.array(
    z.object({
      workerId: z.string(),
      storageBackends: z.array(z.string()),
      kinds: z.array(z.string()),
      gpu: z.boolean(),
      labels: z.record(z.string(), z.string()),
      lastSeen: z.string(),
      live: z.boolean(),
    }),
  ),
});

const credentialRow = {
  id: z.string(),
  principal: z.string(),
  note: z.nullable(z.string()),
  createdBy: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  revokedAt: when,
  lastUsedAt: when,
};
export const credentialSchema = z.object(credentialRow);
export const mintedCredentialSchema = z.object({
  ...credentialRow,
  /** The secret, shown only in this answer. */
  credential: z.string(),
});
export const credentialListSchema = z.object({ credentials: z.array(credentialSchema) });
export const workerTokenSchema = z.object({
  accessToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number(),
  principal: z.string(),
});

/** The one error body every route answers with. */
export const errorSchema = z.object({
  statusCode: z.number(),
  code: z.string(),
  error: z.string(),
  message: z.string(),
  details: z.optional(z.record(z.string(), z.unknown())),
});

/** A JSON answer with `schema`, plus the error answers a route gives. */
export function answers(
  status: number,
  description: string,
  schema: z.ZodMiniType,
  errors: number[] = [400, 401, 403],
) {
  const error = (d: string) => ({ description: d, ...json(errorSchema) });
  const why: Record<number, string> = {
    400: 'A bad field (named in details)',
    401: 'No or a bad token',
    403: 'Not allowed for this caller',
    404: 'No such thing',
    409: 'The job is not held by this worker',
    503: 'A dependency is unavailable',
  };
  return {
    [status]: { description, ...json(schema) },
    ...Object.fromEntries(errors.map((s) => [s, error(why[s] ?? 'Error')])),
  };
}
