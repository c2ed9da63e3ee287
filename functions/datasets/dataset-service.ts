import { createHash } from 'node:crypto';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, mkdtemp, open, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { homePrefix, userFolder } from '../../shared/auth/home.ts';
import { isAdmin, type Principal } from '../../shared/auth/jwt.ts';
import { withTransaction } from '../../shared/db/transaction.ts';
import { AppError, ERRORS } from '../../shared/errors.ts';
import { unquoteEtag } from '../../shared/object-store/etag.ts';
import { presignerFor } from '../../shared/object-store/presign-urls.ts';
import { loadS3Sdk } from '../../shared/object-store/s3-sdk.ts';
import type { Services } from '../../shared/services.ts';
import { createFsDriver } from '../../shared/storage/drivers/fs-driver.ts';
import { AnnDataError, type AnnDataFacts, readAnnDataFacts } from './anndata-facts.ts';
import { readTiffFacts, TiffError, type TiffFacts } from './tiff-facts.ts';
import { viewablePyramid } from './viewer-rules.ts';

export type Role = 'image' | 'h5ad' | 'preview';

/** Where a source file is, as given and as resolved on the registering machine. */
export interface SourceInfo {
  path: string;
  size: number;
  mtime: string;
  original_path: string;
  storage_backend?: string;
  relative_path?: string;
  sha256?: string;
  /** Object-store sources: the ETag when registered. */
  etag?: string;
  /**
   * The user directory (relative to the backend) a non-admin's source was confined to when it was
   * registered; every later read checks again, after following symlinks, that it is still inside.
   */
  user_dir?: string;
}

export interface Manifest {
  dataset_id: string;
  owner: string;
  image_path: string;
  h5ad_path: string;
  preview_path: string | null;
  output_root: string;
  copied: boolean;
  created_at: string;
  source_info: { image: SourceInfo; h5ad: SourceInfo; preview?: SourceInfo };
  image: TiffFacts;
  anndata: AnnDataFacts;
  metadata: { marker_cols: string[] };
  viewer: {
    autoload: boolean;
    autoload_reason: string;
    exceeds_16k: boolean;
    recommendation: string | null;
    preview_path: string | null;
  };
}

export interface RegisterInput {
  image_path?: string;
  h5ad_path?: string;
  preview_path?: string;
  storage_backend?: string;
  user_subdir?: string;
  image?: string;
  h5ad?: string;
  preview?: string;
  dataset_id?: string;
  copy_files: boolean;
  marker_cols: string[];
  overwrite: boolean;
}

/** Lower-case; runs of anything but `a-z0-9_-` become `-`. */
export function normaliseId(id: string): string {
  return id
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Resolves one source (server path or logical reference), enforcing the allow-list and ownership. */
async function resolveSource(
  services: Services,
  who: Principal,
  field: string,
  input: RegisterInput,
  given: string,
): Promise<SourceInfo> {
  const admin = isAdmin(who);
  let file: string;
  let backend: string;
  let relative: string;
  // The user directory a non-admin's reference must stay inside after following symlinks.
  let confineTo: string | undefined;
  if (input.storage_backend) {
    const userDir = input.user_subdir ?? userFolder(who.sub);
    if (!admin && userDir !== userFolder(who.sub))
      throw ERRORS.forbidden(`only admins may use another user's directory`, 'user_subdir');
    const r = await services.storage
      .resolve(input.storage_backend, userDir, given)
      .catch((err: AppError) => {
        throw err instanceof AppError ? ERRORS.withField(err, field) : err;
      });
    if (r.kind === 's3') {
      const head = await headObject(services, r.bucket, r.key);
      if (!head) throw ERRORS.sourceMissing('object not found', field);
      return {
        path: `s3://${r.bucket}/${r.key}`,
        size: head.size,
        mtime: head.mtime,
        etag: head.etag,
        original_path: given,
        storage_backend: input.storage_backend,
        relative_path: `${userDir}/${given}`,
      };
    }
    file = r.path;
    backend = input.storage_backend;
    relative = `${userDir}/${given}`;
    confineTo = admin ? undefined : userDir;
  } else {
    if (!path.isAbsolute(given))
      throw ERRORS.withField(ERRORS.invalidPath('must be an absolute server path'), field);
    const found = await services.storage.locate(given);
    if (!found) throw ERRORS.pathNotAllowed(field, 'is outside every configured storage backend');
    if (!admin && !found.relativePath.startsWith(homePrefix('', who.sub))) {
      throw ERRORS.forbidden(
        `is outside your directory '${userFolder(who.sub)}' in backend '${found.backend}'`,
        field,
      );
    }
    file = found.path;
    backend = found.backend;
    relative = found.relativePath;
    confineTo = admin ? undefined : userFolder(who.sub);
  }
  const st = await stat(file).catch(() => undefined);
  if (!st) throw ERRORS.sourceMissing('file not found', field);
  if (!st.isFile()) throw ERRORS.notAFile(field);
  if (confineTo !== undefined && !(await services.storage.realPathInside(backend, confineTo, file)))
    throw ERRORS.forbidden(
      `leads (after following symlinks) outside your directory '${confineTo}' in backend '${backend}'`,
      field,
    );
  return {
    path: file,
    size: st.size,
    mtime: st.mtime.toISOString(),
    original_path: given,
    storage_backend: backend,
    relative_path: relative,
    ...(confineTo !== undefined ? { user_dir: confineTo } : {}),
  };
}

const s3Location = (p: string) => {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(p);
  return m ? { bucket: m[1] as string, key: m[2] as string } : undefined;
};

async function headObject(services: Services, bucket: string, key: string) {
  const { HeadObjectCommand } = await loadS3Sdk();
  try {
    const h = await services.s3.internal.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return {
      size: h.ContentLength ?? 0,
      mtime: (h.LastModified ?? new Date(0)).toISOString(),
      etag: unquoteEtag(h.ETag),
    };
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
      return undefined;
    throw err;
  }
}

async function getBody(services: Services, loc: { bucket: string; key: string }) {
  const { GetObjectCommand } = await loadS3Sdk();
  const out = await services.s3.internal.send(
    new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }),
  );
  return out.Body as Readable;
}

/** A local or URL form of a source the readers can open; object-store files are fetched as needed. */
async function openable(
  services: Services,
  src: SourceInfo,
  as: 'url' | 'file',
): Promise<{ path: string; done: () => Promise<void> }> {
  const loc = s3Location(src.path);
  if (!loc) return { path: src.path, done: async () => {} };
  if (as === 'url') {
    const url = presignerFor(services, 'internal').presign({
      method: 'GET',
      bucket: loc.bucket,
      key: loc.key,
      expiresIn: 600,
    });
    return { path: url, done: async () => {} };
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-dataset-'));
  const file = path.join(dir, path.basename(loc.key));
  await pipeline(await getBody(services, loc), createWriteStream(file));
  return { path: file, done: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * `ok`, `stale` (size or mtime changed), `missing`, or `outside` (a non-admin's source that now leads,
 * after following symlinks, out of the user directory it was registered in), re-resolved through this
 * machine's mounts. `path` is where this machine's mount shows the file; `real`, for confined sources,
 * its checked real path, which is what gets streamed (a symlink swapped afterwards changes nothing).
 */
async function sourceState(
  services: Services,
  s: SourceInfo,
  owner: string,
): Promise<{
  state: 'ok' | 'stale' | 'missing' | 'outside';
  path: string;
  real?: string;
  confine?: { backend: string; userDir: string };
}> {
  const loc = s3Location(s.path);
  if (loc) {
    const head = await headObject(services, loc.bucket, loc.key);
    if (!head) return { state: 'missing', path: s.path };
    const same =
      head.size === s.size && head.mtime === s.mtime && (!s.etag || head.etag === s.etag);
    return { state: same ? 'ok' : 'stale', path: s.path };
  }
  let file = s.path;
  let real: string | undefined;
  const known = s.storage_backend !== undefined && services.storage.has(s.storage_backend);
  if (known && s.relative_path) {
    file = await services.storage
      .resolvePath(s.storage_backend as string, undefined, s.relative_path)
      .catch(() => s.path);
  }
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) return { state: 'missing', path: file };
  // Manifests from before user_dir was recorded: a source under the owner's folder was confined to it.
  const ownerDir = userFolder(owner);
  const confineTo =
    s.user_dir ?? (s.relative_path?.startsWith(`${ownerDir}/`) ? ownerDir : undefined);
  if (known && confineTo !== undefined) {
    real = await services.storage.realPathInside(s.storage_backend as string, confineTo, file);
    if (!real) return { state: 'outside', path: file };
  }
  const same = st.size === s.size && st.mtime.toISOString() === s.mtime;
  const confine =
    real && confineTo !== undefined
      ? { backend: s.storage_backend as string, userDir: confineTo }
      : undefined;
  return { state: same ? 'ok' : 'stale', path: file, real, confine };
}

function viewerFacts(services: Services, image: TiffFacts, size: number, preview?: string) {
  const { autoloadMaxBytes, disableAutoload } = services.config.viewer;
  let autoload = true;
  let reason = `image is ${size} bytes, within the auto-load limit of ${autoloadMaxBytes} bytes`;
  if (disableAutoload)
    [autoload, reason] = [false, 'auto-load is disabled (AIMINO_DISABLE_AUTOLOAD)'];
  else if (autoloadMaxBytes === 0)
    [autoload, reason] = [false, 'auto-load is disabled (AIMINO_AUTLOAD_MAX_BYTES=0)'];
  else if (size > autoloadMaxBytes)
    [autoload, reason] = [
      false,
      `image is ${size} bytes, above the auto-load limit of ${autoloadMaxBytes} bytes`,
    ];
  const exceeds = image.width > 16_384 || image.height > 16_384;
  const pyramidal = viewablePyramid(image);
  return {
    autoload,
    autoload_reason: reason,
    exceeds_16k: exceeds,
    recommendation:
      exceeds && !pyramidal && !preview
        ? 'an axis exceeds 16,384 pixels: provide a multiscale (pyramidal) image or a preview_path'
        : null,
    preview_path: preview ?? null,
  };
}

/** Copies a file into the dataset's raw folder with a streamed SHA-256, atomically. */
async function copyIn(services: Services, id: string, src: SourceInfo): Promise<SourceInfo> {
  const driver = createFsDriver({ root: services.config.dataRoot });
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const key = `${id}/raw/${path.basename(src.path)}`;
  const loc = s3Location(src.path);
  const source = loc ? await getBody(services, loc) : createReadStream(src.path);
  const [written] = await Promise.all([driver.write(key, hashing), pipeline(source, hashing)]);
  return {
    ...src,
    path: path.join(services.config.dataRoot, key),
    size: written.size,
    mtime: written.mtime.toISOString(),
    sha256: hash.digest('hex'),
  };
}

const sameSources = (a: Manifest, b: Manifest) =>
  (['image', 'h5ad', 'preview'] as const).every((r) => {
    const x = a.source_info[r];
    const y = b.source_info[r];
    return x?.original_path === y?.original_path && x?.size === y?.size && x?.mtime === y?.mtime;
  });

export const datasetService = {
  async register(
    services: Services,
    who: Principal,
    input: RegisterInput,
  ): Promise<{ status: 'ok'; manifest: Manifest; created: boolean }> {
    const logical = input.storage_backend !== undefined;
    const imageGiven = logical ? input.image : input.image_path;
    const h5adGiven = logical ? input.h5ad : input.h5ad_path;
    const previewGiven = logical ? input.preview : input.preview_path;
    const imageField = logical ? 'image' : 'image_path';
    const h5adField = logical ? 'h5ad' : 'h5ad_path';
    if (!imageGiven) throw ERRORS.validation([{ field: imageField, message: 'required' }]);
    if (!h5adGiven) throw ERRORS.validation([{ field: h5adField, message: 'required' }]);
    const image = await resolveSource(services, who, imageField, input, imageGiven);
    const h5ad = await resolveSource(services, who, h5adField, input, h5adGiven);
    const preview = previewGiven
      ? await resolveSource(
          services,
          who,
          logical ? 'preview' : 'preview_path',
          input,
          previewGiven,
        )
      : undefined;

    const id = normaliseId(
      input.dataset_id ?? path.basename(imageGiven).replace(/\.ome\.tiff?$|\.tiff?$|\.svs$/i, ''),
    );
    if (!id)
      throw ERRORS.validation([{ field: 'dataset_id', message: 'is empty after normalisation' }]);

    let tiff: TiffFacts;
    const imageSrc = await openable(services, image, 'url');
    try {
      tiff = await readTiffFacts(imageSrc.path, { size: image.size });
    } catch (err) {
      if (err instanceof TiffError) throw ERRORS.invalidImage(imageField, err.message);
      throw err;
    } finally {
      await imageSrc.done();
    }
    let anndata: AnnDataFacts;
    const h5adSrc = await openable(services, h5ad, 'file');
    try {
      anndata = await readAnnDataFacts(h5adSrc.path);
    } catch (err) {
      if (err instanceof AnnDataError) throw ERRORS.invalidH5ad(h5adField, err.message);
      throw err;
    } finally {
      await h5adSrc.done();
    }
    const missingCols = input.marker_cols.filter((c) => !(c in anndata.obs) && !(c in anndata.var));
    if (missingCols.length) {
      throw ERRORS.unknownMarkerCols(
        'marker_cols',
        `not among the obs/var columns: ${missingCols.join(', ')}`,
      );
    }

    const root = services.config.dataRoot;
    const draft: Manifest = {
      dataset_id: id,
      owner: who.sub,
      image_path: image.path,
      h5ad_path: h5ad.path,
      preview_path: preview?.path ?? null,
      output_root: path.join(root, id),
      copied: input.copy_files,
      created_at: new Date().toISOString(),
      source_info: { image, h5ad, ...(preview ? { preview } : {}) },
      image: tiff,
      anndata,
      metadata: { marker_cols: input.marker_cols },
      viewer: viewerFacts(
        services,
        tiff,
        image.size,
        preview?.path ?? (viewablePyramid(tiff) ? image.path : undefined),
      ),
    };

    return withTransaction(services.db, async (tx) => {
      const existing = await tx.query<{ manifest: Manifest; owner: string }>(
        'SELECT manifest, owner FROM datasets WHERE dataset_id = $1 FOR UPDATE',
        [id],
      );
      const old = existing.rows[0];
      if (old && sameSources(old.manifest, draft) && !input.overwrite)
        return { status: 'ok' as const, manifest: old.manifest, created: false };
      if (old && !input.overwrite) {
        throw ERRORS.conflict(
          `Dataset '${id}' is already registered with other files; pass overwrite: true to replace it`,
          { dataset_id: id },
        );
      }
      if (old && old.owner !== who.sub && !isAdmin(who))
        throw ERRORS.forbidden(`Dataset '${id}' belongs to another user`);
      const manifest = { ...draft };
      if (input.copy_files) {
        manifest.source_info = {
          image: await copyIn(services, id, image),
          h5ad: await copyIn(services, id, h5ad),
          ...(preview ? { preview: await copyIn(services, id, preview) } : {}),
        };
        manifest.image_path = manifest.source_info.image.path;
        manifest.h5ad_path = manifest.source_info.h5ad.path;
        manifest.preview_path = manifest.source_info.preview?.path ?? null;
      }
      await tx.query(
        `INSERT INTO datasets (dataset_id, owner, manifest) VALUES ($1, $2, $3)
         ON CONFLICT (dataset_id) DO UPDATE SET manifest = EXCLUDED.manifest, owner = EXCLUDED.owner, updated_at = now()`,
        [id, who.sub, JSON.stringify(manifest)],
      );
      // Last step inside the transaction: if the manifest cannot be written, the registration rolls back.
      await createFsDriver({ root }).write(
        `${id}/manifest.json`,
        JSON.stringify(manifest, null, 2),
      );
      return { status: 'ok' as const, manifest, created: true };
    });
  },

  async get(services: Services, who: Principal, id: string): Promise<Manifest> {
    const res = await services.db.query<{ manifest: Manifest; owner: string }>(
      'SELECT manifest, owner FROM datasets WHERE dataset_id = $1',
      [normaliseId(id)],
    );
    const row = res.rows[0];
    if (!row || (row.owner !== who.sub && !isAdmin(who))) throw ERRORS.notFound('dataset', id);
    return row.manifest;
  },

  /** Re-checks every source: `ok`, `stale`, `missing` or `outside` per role, the worst overall. */
  async integrity(services: Services, m: Manifest) {
    const out: Record<string, { state: string; path: string }> = {};
    for (const role of ['image', 'h5ad', 'preview'] as const) {
      const s = m.source_info[role];
      if (s) out[role] = await sourceState(services, s, m.owner);
    }
    const states = Object.values(out).map((v) => v.state);
    const worst = (['outside', 'missing', 'stale'] as const).find((w) => states.includes(w));
    return { status: worst ?? 'ok', sources: out };
  },

  async list(services: Services, who: Principal, cursor: string | undefined, limit: number) {
    const res = await services.db.query<{
      dataset_id: string;
      owner: string;
      manifest: Manifest;
      created_at: Date;
    }>(
      `SELECT dataset_id, owner, manifest, created_at FROM datasets
       WHERE ($1::text IS NULL OR owner = $1) AND ($2::text IS NULL OR dataset_id > $2)
       ORDER BY dataset_id LIMIT $3`,
      [isAdmin(who) ? null : who.sub, cursor ?? null, limit],
    );
    const items = res.rows.map((r) => ({
      dataset_id: r.dataset_id,
      owner: r.owner,
      created_at: r.created_at.toISOString(),
      viewer: r.manifest.viewer,
      image: { width: r.manifest.image.width, height: r.manifest.image.height },
    }));
    return {
      datasets: items,
      nextCursor: items.length === limit ? (items.at(-1)?.dataset_id ?? null) : null,
    };
  },

  /** Removes the registration and what Sluice wrote under the data root; never the user's originals. */
  async remove(services: Services, who: Principal, id: string) {
    const m = await this.get(services, who, id);
    await services.db.query('DELETE FROM datasets WHERE dataset_id = $1', [m.dataset_id]);
    await rm(path.join(services.config.dataRoot, m.dataset_id), { recursive: true, force: true });
    return { dataset_id: m.dataset_id, status: 'deleted' };
  },

  /**
   * The file for a role, after checking it has not changed since registration: a local path to
   * stream or, for object-store sources, a presigned URL to redirect to.
   */
  async file(
    services: Services,
    who: Principal,
    id: string,
    role: Role,
  ): Promise<
    | { path: string; size: number; redirect: string }
    | { path: string; size: number; redirect?: undefined; open: () => Promise<FileHandle> }
  > {
    const m = await this.get(services, who, id);
    const s = m.source_info[role];
    if (!s) throw ERRORS.notFound(`${role} file of dataset`, id);
    const state = await sourceState(services, s, m.owner);
    if (state.state === 'outside')
      throw ERRORS.forbidden(
        `the ${role} file of '${id}' now leads (after following symlinks) outside the directory it was registered in`,
        role,
      );
    if (state.state === 'missing')
      throw ERRORS.sourceMissing(`The ${role} file of '${id}' is missing: ${s.original_path}`);
    if (state.state === 'stale')
      throw ERRORS.sourceStale(
        `The ${role} file of '${id}' changed since registration; run verify or re-register`,
      );
    const loc = s3Location(state.path);
    if (loc) {
      const ttl = services.config.presign.ttlS;
      const redirect = presignerFor(services).presign({
        method: 'GET',
        bucket: loc.bucket,
        key: loc.key,
        expiresIn: ttl,
      });
      return { path: state.path, size: s.size, redirect };
    }
    const file = state.real ?? state.path;
    const outside = () =>
      ERRORS.forbidden(`the ${role} file of '${id}' changed place while it was being opened`, role);
    const { confine } = state;
    return {
      path: file,
      size: s.size,
      // What is opened is proved to be what was checked: no symlink at the end of the path, and the
      // open file is the same inode as the real path, re-checked inside the user directory after
      // opening (a directory swapped for a symlink between check and open is caught here).
      open: async () => {
        const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => {
          throw outside();
        });
        if (!confine) return fh;
        try {
          const again = await services.storage.realPathInside(
            confine.backend,
            confine.userDir,
            file,
          );
          const [opened, checked] = await Promise.all([fh.stat(), again ? stat(again) : undefined]);
          if (!checked || opened.dev !== checked.dev || opened.ino !== checked.ino) throw outside();
          return fh;
        } catch (err) {
          await fh.close();
          throw err;
        }
      },
    };
  },
};
