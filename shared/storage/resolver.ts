import { constants } from 'node:fs';
import { access, mkdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BackendConfig } from '../config/load.ts';
import { ERRORS } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { confinedJoin, isWithin, splitRelative } from './resolve-path.ts';

/** Where a logical reference lives on this machine. */
export type Resolved =
  | { kind: 'fs'; backend: string; path: string }
  | { kind: 's3'; backend: string; bucket: string; key: string };

/** A logical reference: the same on every machine, whatever each one mounts. */
export interface LogicalRef {
  backend: string;
  userSubdir?: string;
  relativePath: string;
}

export interface BackendHealth {
  exists: boolean;
  readable: boolean;
  writable: boolean;
  latencyMs: number;
  error?: string;
}

/** What listings show: never credentials, never more than name, type, description and health. */
export interface BackendInfo {
  name: string;
  type: BackendConfig['type'];
  description?: string;
  health?: BackendHealth;
}

/** Probes an s3 backend; supplied by the object-store service so the resolver stays filesystem-only. */
export type S3Probe = (bucket: string, prefix: string) => Promise<BackendHealth>;

/**
 * Maps logical backend names to this machine's mount points and keeps every resolved path inside its
 * backend's base. One instance per process; it holds no per-request state.
 */
export class StorageResolver {
  readonly #backends = new Map<string, BackendConfig>();
  readonly #realBases = new Map<string, Promise<string>>();
  /** Health per backend with the time it was probed; concurrent callers share one probe. */
  readonly #health = new Map<string, { at: number; health: Promise<BackendHealth> }>();

  constructor(
    backends: BackendConfig[],
    private readonly defaults: {
      bucket: string;
      s3Probe?: S3Probe;
      /** Seconds a probed health is reused by `cachedHealth` (default 5; 0 = always probe). */
      healthTtlS?: number;
    },
    log?: Logger,
  ) {
    for (const b of backends) {
      this.#backends.set(b.name, b);
      log?.info(
        {
          backend: b.name,
          type: b.type,
          base: b.type === 's3' ? `${b.bucket ?? defaults.bucket}/${b.prefix ?? ''}` : b.basePath,
        },
        `storage backend '${b.name}' registered`,
      );
    }
  }

  /** Backend names configured on this machine. */
  names(): string[] {
    return [...this.#backends.keys()];
  }

  has(name: string): boolean {
    return this.#backends.has(name);
  }

  /** The backend's config, or a 404 naming it. */
  get(name: string): BackendConfig {
    const b = this.#backends.get(name);
    if (!b) throw ERRORS.backendNotConfigured(name);
    return b;
  }

  /** The base directory with symlinks resolved (memoised: mounts do not move while we run). */
  async realBase(name: string): Promise<string> {
    const b = this.get(name);
    if (!b.basePath) throw ERRORS.badRequest(`Backend '${name}' is not a filesystem backend`);
    let p = this.#realBases.get(name);
    if (!p) {
      const base = b.basePath;
      p = realpath(base).catch(() => {
        throw ERRORS.unavailable(`Backend '${name}' base path is not available on this machine`);
      });
      // Do not cache a failure: the mount may appear later.
      p.catch(() => this.#realBases.delete(name));
      this.#realBases.set(name, p);
    }
    return p;
  }

  /**
   * Resolves `relativePath` inside `userSubdir` of `backend` to this machine's absolute path (or an
   * object key for s3 backends). The user directory must already exist on filesystem backends.
   */
  async resolve(
    backend: string,
    userSubdir: string | undefined,
    relativePath: string,
  ): Promise<Resolved> {
    const b = this.get(backend);
    const userSegs =
      userSubdir === undefined || userSubdir === '' ? [] : splitRelative(userSubdir, 'user_subdir');
    const relSegs = splitRelative(relativePath, 'relative_path');
    if (b.type === 's3') {
      const prefix = b.prefix ?? '';
      return {
        kind: 's3',
        backend,
        bucket: b.bucket ?? this.defaults.bucket,
        key: prefix + [...userSegs, ...relSegs].join('/'),
      };
    }
    const base = await this.realBase(backend);
    const mount = b.basePath as string;
    if (userSegs.length > 0) {
      const userDir = await confinedJoin(base, userSegs, mount);
      const st = await stat(userDir).catch(() => undefined);
      if (!st?.isDirectory()) throw ERRORS.userDirNotFound(userSegs.join('/'), backend);
    }
    return {
      kind: 'fs',
      backend,
      path: await confinedJoin(base, [...userSegs, ...relSegs], mount),
    };
  }

  /** Like `resolve` for a filesystem backend, returning the path (400 for s3 backends). */
  async resolvePath(
    backend: string,
    userSubdir: string | undefined,
    relativePath: string,
  ): Promise<string> {
    const r = await this.resolve(backend, userSubdir, relativePath);
    if (r.kind !== 'fs')
      throw ERRORS.badRequest(`Backend '${backend}' is an object-store backend, not a filesystem`);
    return r.path;
  }

  /**
   * `file`'s real path (every symlink followed) when it lies strictly inside `userSubdir` of the
   * filesystem backend, whose own real path is taken too; otherwise undefined (outside, missing, or
   * the user directory is not there). Being inside the backend is not enough for a user's own
   * references: a symlink in alice's folder may point into bob's.
   */
  async realPathInside(
    backend: string,
    userSubdir: string,
    file: string,
  ): Promise<string | undefined> {
    const b = this.get(backend);
    if (b.type === 's3' || !b.basePath) return undefined;
    const base = await this.realBase(backend);
    const dir = await confinedJoin(base, splitRelative(userSubdir, 'user_subdir'), b.basePath)
      .then((d) => realpath(d))
      .catch(() => undefined);
    const real = await realpath(file).catch(() => undefined);
    if (!dir || !real || real === dir || !isWithin(dir, real)) return undefined;
    return real;
  }

  /**
   * The reverse mapping: which backend (and relative path) an absolute server path belongs to.
   * This is the allow-list for APIs that accept server-visible paths. Returns undefined when the path is
   * outside every filesystem backend (after following symlinks).
   */
  async locate(
    absolutePath: string,
  ): Promise<{ backend: string; relativePath: string; path: string } | undefined> {
    if (!path.isAbsolute(absolutePath) || absolutePath.includes('\0')) return undefined;
    const real = await realpath(absolutePath).catch(() => undefined);
    for (const b of this.#backends.values()) {
      if (b.type === 's3') continue;
      const base = await this.realBase(b.name).catch(() => undefined);
      if (!base) continue;
      const candidate = real ?? path.resolve(absolutePath);
      if (isWithin(base, candidate) && candidate !== base) {
        return {
          backend: b.name,
          relativePath: path.relative(base, candidate).split(path.sep).join('/'),
          path: candidate,
        };
      }
    }
    return undefined;
  }

  /**
   * Listing with health for signed-in callers of `GET /api/v1/storage/backends`; the health is
   * `cachedHealth`, so repeated calls do not write a probe file per call.
   */
  async list(withHealth = true): Promise<BackendInfo[]> {
    return Promise.all(
      [...this.#backends.values()].map(async (b) => {
        const info: BackendInfo = { name: b.name, type: b.type, description: b.description };
        if (withHealth) info.health = await this.cachedHealth(b.name);
        return info;
      }),
    );
  }

  /**
   * `health`, reused for `healthTtlS` seconds after the probe started, and shared by callers that
   * arrive while one is running: at most one probe write per backend per TTL, whatever the call rate.
   */
  async cachedHealth(name: string): Promise<BackendHealth> {
    const ttlMs = (this.defaults.healthTtlS ?? 5) * 1000;
    const hit = this.#health.get(name);
    if (hit && performance.now() - hit.at < ttlMs) return hit.health;
    const entry = { at: performance.now(), health: this.health(name) };
    this.#health.set(name, entry);
    // A probe that throws (an unknown name) is not kept.
    entry.health.catch(() => this.#health.delete(name));
    return entry.health;
  }

  /** Exists / readable / writable, with the time the probe took. Writable is tested by a real write. */
  async health(name: string): Promise<BackendHealth> {
    const b = this.get(name);
    const started = performance.now();
    const done = (h: Omit<BackendHealth, 'latencyMs'>): BackendHealth => ({
      ...h,
      latencyMs: Math.round((performance.now() - started) * 100) / 100,
    });
    if (b.type === 's3') {
      if (!this.defaults.s3Probe)
        return done({
          exists: false,
          readable: false,
          writable: false,
          error: 'no object store configured',
        });
      const h = await this.defaults.s3Probe(b.bucket ?? this.defaults.bucket, b.prefix ?? '');
      return { ...h, latencyMs: done(h).latencyMs };
    }
    const base = b.basePath as string;
    const st = await stat(base).catch(() => undefined);
    if (!st?.isDirectory())
      return done({
        exists: false,
        readable: false,
        writable: false,
        error: 'base path does not exist',
      });
    const readable = await access(base, constants.R_OK | constants.X_OK).then(
      () => true,
      () => false,
    );
    let writable = false;
    const probe = path.join(base, `.sluice-probe-${process.pid}-${Date.now()}`);
    try {
      await writeFile(probe, 'ok');
      writable = true;
    } catch {
      writable = false;
    } finally {
      await rm(probe, { force: true }).catch(() => {});
    }
    return done({ exists: true, readable, writable });
  }

  /** Creates a filesystem backend's base directory (local stack convenience; never used for mounts). */
  async ensureBase(name: string): Promise<void> {
    const b = this.get(name);
    if (b.basePath) await mkdir(b.basePath, { recursive: true });
    this.#realBases.delete(name);
  }
}
