import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { userFolder } from '../../shared/auth/home.ts';
import { isAdmin, type Principal } from '../../shared/auth/jwt.ts';
import { withTransaction } from '../../shared/db/transaction.ts';
import { AppError, ERRORS } from '../../shared/errors.ts';
import { presignerFor } from '../../shared/object-store/presign-urls.ts';
import { loadS3Sdk } from '../../shared/object-store/s3-sdk.ts';
import type { Services } from '../../shared/services.ts';
import { jobStagingPrefix } from '../../shared/storage/job-staging.ts';
import { splitRelative } from '../../shared/storage/relative-path.ts';
import { deliverOutputs, removeStaging } from './staging.ts';

export interface Job {
  id: number;
  kind: string;
  owner: string;
  userSubdir: string;
  storageBackend: string;
  inputFile: string;
  outputDir: string;
  params: Record<string, unknown>;
  status: 'queued' | 'running' | 'done' | 'failed';
  mode: 'direct' | 'transfer' | null;
  workerId: string | null;
  attempts: number;
  leaseExpiresAt: string | null;
  outputPath: string | null;
  errorCode: string | null;
  error: string | null;
  transfer: Record<string, unknown> | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

const cols = `id, kind, owner, user_subdir AS "userSubdir", storage_backend AS "storageBackend", input_file AS "inputFile",
  output_dir AS "outputDir", params, status, mode, worker_id AS "workerId", attempts, lease_expires_at AS "leaseExpiresAt",
  output_path AS "outputPath", error_code AS "errorCode", error, transfer, created_at AS "createdAt",
  started_at AS "startedAt", finished_at AS "finishedAt"`;

/** Jobs without a backend run where the legacy SHARED_STORAGE_ROOT is mounted. */
export const LEGACY_BACKEND = 'default';

/** Where staged inputs and transfer-mode outputs live in the bucket. */
const stagingPrefix = (services: Services, id: number) =>
  jobStagingPrefix(services.config.s3.prefix, id);

/** Kinds the worker `kinds` array accepts: a job kind, or `*` for every kind. */
const servesKind = (kindParam: string) => `(${kindParam} = ANY(w.kinds) OR '*' = ANY(w.kinds))`;

export interface CreateJob {
  kind: string;
  storage_backend?: string;
  user_subdir?: string;
  input_file: string;
  output_dir: string;
  params: Record<string, unknown>;
}

async function liveBackends(services: Services): Promise<Set<string>> {
  const res = await services.db.query<{ b: string }>(
    `SELECT DISTINCT unnest(storage_backends) AS b FROM workers WHERE last_seen > now() - make_interval(secs => $1)`,
    [services.config.workers.ttlS],
  );
  return new Set(res.rows.map((r) => r.b));
}

export const jobService = {
  async create(services: Services, who: Principal, input: CreateJob): Promise<Job> {
    const userSubdir = input.user_subdir ?? userFolder(who.sub);
    if (!isAdmin(who) && userSubdir !== userFolder(who.sub))
      throw ERRORS.forbidden(
        "only admins may submit jobs for another user's directory",
        'user_subdir',
      );
    const field = (name: string, value: string) => {
      try {
        splitRelative(value, name);
      } catch (err) {
        throw err instanceof AppError ? ERRORS.withField(err, name) : err;
      }
    };
    field('user_subdir', userSubdir);
    field('input_file', input.input_file);
    field('output_dir', input.output_dir);
    const backend = input.storage_backend ?? LEGACY_BACKEND;
    if (services.storage.has(backend)) {
      // The API mounts this backend too: check the input exists now rather than on a worker later.
      const r = await services.storage.resolve(backend, userSubdir, input.input_file);
      if (r.kind === 'fs' && !(await stat(r.path).catch(() => undefined))?.isFile()) {
        throw ERRORS.inputNotFound(
          'input_file',
          `'${input.input_file}' not found in backend '${backend}'`,
        );
      }
    } else if (!(await liveBackends(services)).has(backend)) {
      throw ERRORS.backendNotAvailable(backend);
    }
    const res = await services.db.query<Job>(
      `INSERT INTO jobs (kind, owner, user_subdir, storage_backend, input_file, output_dir, params)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${cols}`,
      [
        input.kind,
        who.sub,
        userSubdir,
        backend,
        input.input_file,
        input.output_dir,
        JSON.stringify(input.params),
      ],
    );
    return res.rows[0] as Job;
  },

  /** A note for the submitter when no live worker runs this kind (the job waits, it is not lost). */
  async kindWarning(services: Services, kind: string): Promise<string | undefined> {
    const res = await services.db.query(
      `SELECT 1 FROM workers w WHERE ${servesKind('$1')} AND w.last_seen > now() - make_interval(secs => $2) LIMIT 1`,
      [kind, services.config.workers.ttlS],
    );
    if ((res.rowCount ?? 0) > 0) return undefined;
    return `No live worker runs kind '${kind}'; the job waits until one announces it`;
  },

  async get(services: Services, who: Principal, id: number): Promise<Job> {
    const res = await services.db.query<Job>(`SELECT ${cols} FROM jobs WHERE id = $1`, [id]);
    const job = res.rows[0];
    if (!job) throw ERRORS.notFound('job', String(id));
    if (job.owner === who.sub || isAdmin(who)) return job;
    // A worker principal sees the jobs held by workers it announced, nothing else.
    if (who.roles.includes('worker') && job.workerId !== null) {
      const mine = await services.db.query(
        'SELECT 1 FROM workers WHERE worker_id = $1 AND principal = $2',
        [job.workerId, who.sub],
      );
      if ((mine.rowCount ?? 0) > 0) return job;
    }
    throw ERRORS.notFound('job', String(id));
  },

  async list(services: Services, who: Principal, status: string | undefined, limit: number) {
    const res = await services.db.query<Job>(
      `SELECT ${cols} FROM jobs WHERE ($1::text IS NULL OR owner = $1) AND ($2::text IS NULL OR status = $2) ORDER BY id DESC LIMIT $3`,
      [isAdmin(who) ? null : who.sub, status ?? null, limit],
    );
    return res.rows;
  },

  async announce(
    services: Services,
    who: Principal,
    w: {
      worker_id: string;
      capabilities: {
        storage_backends: string[];
        kinds?: string[];
        gpu?: boolean;
        labels?: Record<string, string>;
      };
    },
  ) {
    await services.db.query(
      `INSERT INTO workers (worker_id, principal, storage_backends, kinds, gpu, labels, last_seen) VALUES ($1, $2, $3, $4, $5, $6, now())
       ON CONFLICT (worker_id) DO UPDATE SET principal = EXCLUDED.principal, storage_backends = EXCLUDED.storage_backends,
         kinds = EXCLUDED.kinds, gpu = EXCLUDED.gpu, labels = EXCLUDED.labels, last_seen = now()`,
      [
        w.worker_id,
        who.sub,
        w.capabilities.storage_backends,
        // An agent that does not say which kinds it runs is taken to run every kind (older agents).
        w.capabilities.kinds ?? ['*'],
        w.capabilities.gpu ?? false,
        JSON.stringify(w.capabilities.labels ?? {}),
      ],
    );
    return {
      workerId: w.worker_id,
      ttlS: services.config.workers.ttlS,
      leaseS: services.config.events.leaseS,
    };
  },

  async workers(services: Services) {
    const res = await services.db.query(
      `SELECT worker_id AS "workerId", storage_backends AS "storageBackends", kinds, gpu, labels, last_seen AS "lastSeen",
         last_seen > now() - make_interval(secs => $1) AS live FROM workers ORDER BY worker_id`,
      [services.config.workers.ttlS],
    );
    return res.rows;
  },

  /**
   * At most one job for this worker, atomically, and only of a kind it runs: first a queued job on a
   * backend it has; else a job that no live worker with its kind and backend can take, in transfer mode
   * (input staged to the object store, presigned URLs). Jobs whose lease expired are requeued first.
   */
  async claim(services: Services, who: Principal, workerId: string): Promise<Job | null> {
    const leaseS = services.config.events.leaseS;
    const worker = (
      await services.db.query<{ storage_backends: string[]; kinds: string[]; principal: string }>(
        'SELECT storage_backends, kinds, principal FROM workers WHERE worker_id = $1',
        [workerId],
      )
    ).rows[0];
    if (!worker) throw ERRORS.notFound('worker', workerId);
    if (worker.principal !== who.sub && !isAdmin(who))
      throw ERRORS.forbidden(`Worker '${workerId}' was announced by another principal`);
    await services.db.query('UPDATE workers SET last_seen = now() WHERE worker_id = $1', [
      workerId,
    ]);
    await services.db.query(
      `UPDATE jobs SET status = 'queued', worker_id = NULL, lease_expires_at = NULL, updated_at = now(),
         error = 'lease expired: the worker stopped without finishing' WHERE status = 'running' AND lease_expires_at < now()`,
    );
    for (let tries = 0; tries < 20; tries++) {
      const picked = await withTransaction(services.db, async (tx) => {
        const anyKind = worker.kinds.includes('*');
        const direct = await tx.query<Job>(
          `SELECT ${cols} FROM jobs WHERE status = 'queued' AND storage_backend = ANY($1) AND ($2 OR kind = ANY($3))
           ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [worker.storage_backends, anyKind, worker.kinds],
        );
        let job = direct.rows[0];
        let mode: 'direct' | 'transfer' = 'direct';
        if (!job) {
          const orphan = await tx.query<Job>(
            `SELECT ${cols} FROM jobs j WHERE status = 'queued' AND ($2 OR kind = ANY($3)) AND NOT EXISTS (
               SELECT 1 FROM workers w WHERE j.storage_backend = ANY(w.storage_backends) AND ${servesKind('j.kind')}
                 AND w.last_seen > now() - make_interval(secs => $1))
             ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`,
            [services.config.workers.ttlS, anyKind, worker.kinds],
          );
          job = orphan.rows[0];
          mode = 'transfer';
        }
        if (!job) return { job: null };
        let transfer: Record<string, unknown> | null = null;
        if (mode === 'transfer') {
          const staged = await stageInput(services, job).catch((err: Error) => err);
          if (staged instanceof Error) {
            await tx.query(
              `UPDATE jobs SET status = 'failed', error_code = 'BACKEND_NOT_AVAILABLE', error = $2, finished_at = now(), updated_at = now()
               WHERE id = $1 AND status = 'queued'`,
              [
                job.id,
                `Backend '${job.storageBackend}' is not available on any live worker and the input cannot be staged: ${staged.message}`,
              ],
            );
            return { retry: true };
          }
          transfer = staged;
        }
        const res = await tx.query<Job>(
          `UPDATE jobs SET status = 'running', mode = $2, worker_id = $3, attempts = attempts + 1, transfer = $4,
             lease_expires_at = now() + make_interval(secs => $5), started_at = now(), updated_at = now(), error = NULL
           WHERE id = $1 AND status = 'queued' RETURNING ${cols}`,
          [job.id, mode, workerId, transfer ? JSON.stringify(transfer) : null, leaseS],
        );
        // A job staged for an earlier transfer-mode attempt and now run directly: its staging goes.
        return { job: res.rows[0] as Job, restaged: mode === 'direct' && job.transfer !== null };
      });
      if ('retry' in picked) continue;
      if (picked.job && 'restaged' in picked && picked.restaged)
        await removeStaging(services, picked.job.id).catch(() => {});
      return picked.job;
    }
    return null;
  },

  /**
   * One worker transition as ONE conditional statement on (id, worker, status = 'running'), with the
   * caller's right to act for the worker checked in the same statement: a job requeued and claimed by
   * another worker in between can never be changed for the wrong one. 409 when it did not apply.
   */
  async transition(
    services: Services,
    who: Principal,
    id: number,
    workerId: string,
    set: string,
    params: unknown[] = [],
  ): Promise<Job> {
    const res = await services.db.query<Job>(
      `UPDATE jobs SET ${set}, updated_at = now()
       WHERE id = $1 AND worker_id = $2 AND status = 'running'
         AND ($3 OR EXISTS (SELECT 1 FROM workers w WHERE w.worker_id = $2 AND w.principal = $4))
       RETURNING ${cols}`,
      [id, workerId, isAdmin(who), who.sub, ...params],
    );
    const job = res.rows[0];
    if (job) return job;
    // Callers are workers (or admins): telling them the job exists but is not theirs is no leak.
    const exists = await services.db.query('SELECT 1 FROM jobs WHERE id = $1', [id]);
    if ((exists.rowCount ?? 0) === 0) throw ERRORS.notFound('job', String(id));
    throw ERRORS.conflict(`Job ${id} is not running on worker '${workerId}'`);
  },

  /** Extends the lease of a job this worker holds (one conditional statement). */
  extendLease(services: Services, who: Principal, id: number, workerId: string) {
    return this.transition(
      services,
      who,
      id,
      workerId,
      'lease_expires_at = now() + make_interval(secs => $5)',
      [services.config.events.leaseS],
    );
  },

  async heartbeat(services: Services, who: Principal, id: number, workerId: string) {
    const job = await this.extendLease(services, who, id, workerId);
    await services.db.query('UPDATE workers SET last_seen = now() WHERE worker_id = $1', [
      workerId,
    ]);
    return { id, leaseExpiresAt: new Date(job.leaseExpiresAt as string).toISOString() };
  },

  /**
   * Marks a job done. A transfer-mode job's outputs are first delivered from the staging folder to its
   * `output_dir` on its backend (the lease is extended for the copy); staging is removed either way.
   */
  async complete(
    services: Services,
    who: Principal,
    id: number,
    workerId: string,
    outputPath: string,
  ) {
    const held = await this.extendLease(services, who, id, workerId);
    let output = outputPath;
    if (held.mode === 'transfer') {
      const delivered = await deliverOutputs(services, held).catch((err: Error) => err);
      if (delivered instanceof Error)
        return this.fail(
          services,
          who,
          id,
          workerId,
          'OUTPUT_DELIVERY_FAILED',
          `outputs could not be delivered to '${held.outputDir}' on backend '${held.storageBackend}': ${delivered.message}`,
        );
      output = delivered;
    }
    const job = await this.transition(
      services,
      who,
      id,
      workerId,
      `status = 'done', output_path = $5, finished_at = now(), lease_expires_at = NULL`,
      [output],
    );
    if (job.mode === 'transfer') await removeStaging(services, id).catch(() => {});
    return job;
  },

  async fail(
    services: Services,
    who: Principal,
    id: number,
    workerId: string,
    code: string,
    error: string,
  ) {
    const job = await this.transition(
      services,
      who,
      id,
      workerId,
      `status = 'failed', error_code = $5, error = $6, finished_at = now(), lease_expires_at = NULL`,
      [code, error.slice(0, 2000)],
    );
    if (job.mode === 'transfer') await removeStaging(services, id).catch(() => {});
    return job;
  },

  /** The running job held by this worker, or a 409 (a read, for requests that change no job). */
  async held(services: Services, who: Principal, id: number, workerId: string): Promise<Job> {
    const job = await this.get(services, who, id);
    if (job.status !== 'running' || job.workerId !== workerId)
      throw ERRORS.conflict(`Job ${id} is not running on worker '${workerId}'`);
    return job;
  },

  /** A presigned PUT for one output file of a transfer-mode job. */
  async outputUrl(services: Services, who: Principal, id: number, workerId: string, name: string) {
    const job = await this.held(services, who, id, workerId);
    if (job.mode !== 'transfer')
      throw ERRORS.badRequest('Only transfer-mode jobs upload their outputs');
    const key = `${stagingPrefix(services, id)}output/${splitRelative(name, 'name').join('/')}`;
    const url = presignerFor(services).presign({
      method: 'PUT',
      bucket: services.config.s3.bucket,
      key,
      expiresIn: services.config.presign.ttlS,
    });
    return { url, key };
  },
};

/** Copies a job's input into the bucket (once) and hands out presigned URLs for it. */
async function stageInput(services: Services, job: Job): Promise<Record<string, unknown>> {
  if (!services.storage.has(job.storageBackend))
    throw new Error(`backend '${job.storageBackend}' is not mounted on the API either`);
  const r = await services.storage.resolve(job.storageBackend, job.userSubdir, job.inputFile);
  const bucket = services.config.s3.bucket;
  const name = path.posix.basename(job.inputFile);
  const key = `${stagingPrefix(services, job.id)}input/${name}`;
  if (r.kind === 'fs') {
    const { HeadObjectCommand, PutObjectCommand } = await loadS3Sdk();
    const exists = await services.s3.internal
      .send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
      .then(
        () => true,
        () => false,
      );
    if (!exists) {
      const size = (await stat(r.path)).size;
      await services.s3.internal.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: createReadStream(r.path),
          ContentLength: size,
        }),
      );
    }
  }
  const source = r.kind === 's3' ? { bucket: r.bucket, key: r.key } : { bucket, key };
  const ttl = services.config.presign.ttlS;
  return {
    input: {
      name,
      url: presignerFor(services).presign({
        method: 'GET',
        bucket: source.bucket,
        key: source.key,
        expiresIn: ttl,
      }),
    },
    outputPrefix: `s3://${bucket}/${stagingPrefix(services, job.id)}output/`,
  };
}
