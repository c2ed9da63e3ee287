import {
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAnnDataFacts } from '../../functions/datasets/anndata-facts.ts';
import { createDatasetsApp } from '../../functions/datasets/app.ts';
import { readTiffFacts } from '../../functions/datasets/tiff-facts.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { silentLogger } from '../../shared/log/logger.ts';
import { createServices } from '../../shared/services.ts';
import { StorageResolver } from '../../shared/storage/resolver.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';
import { type TiffKind, writeTiff } from '../helpers/tiff-writers.ts';

let stack: TestStack;
let app: ReturnType<typeof createDatasetsApp>;
let vast: string;
let amick: string;
let sam: string;
let admin: string;
const fx = (p: string) => path.resolve('test/fixtures', p);

beforeAll(async () => {
  const base = await mkdtemp(path.join(os.tmpdir(), 'sluice-datasets-'));
  const pre = { tmp: base };
  vast = path.join(pre.tmp, 'vast');
  await mkdir(path.join(vast, 'amick', 'run1'), { recursive: true });
  await mkdir(path.join(vast, 'sam'), { recursive: true });
  await mkdir(path.join(pre.tmp, 'outside'), { recursive: true });
  for (const f of [
    'tiff/openslide_boxes.tiff',
    'tiff/libvips_multi-channel-z-series.ome.tif',
    'h5ad/anndata_v0.7.8_adata.h5ad',
    'tiff/openslide_unopenable.tiff',
  ]) {
    await copyFile(fx(f), path.join(vast, 'amick', 'run1', path.basename(f)));
  }
  await copyFile(fx('tiff/ometypes_ome.tiff'), path.join(vast, 'sam', 'ome.tiff'));
  await copyFile(
    fx('h5ad/anndata_v0.7.8_adata.h5ad'),
    path.join(pre.tmp, 'outside', 'secret.h5ad'),
  );
  await writeFile(path.join(vast, 'amick', 'run1', 'fake.tif'), 'this is text, not a TIFF\n');
  await symlink(
    path.join(pre.tmp, 'outside', 'secret.h5ad'),
    path.join(vast, 'amick', 'run1', 'link.h5ad'),
  );
  await writeFile(
    path.join(pre.tmp, 'storage.toml'),
    `[storage.vast]\ntype = "nfs"\nbase_path = "${vast}"\n\n[storage.archive]\ntype = "s3"\nprefix = "archive/"\n`,
  );
  stack = await createTestStack({
    SLUICE_CONFIG: path.join(pre.tmp, 'storage.toml'),
    AIMINO_AUTLOAD_MAX_BYTES: '1000000',
  });
  app = createDatasetsApp(stack.services);
  amick = await stack.token('amick');
  sam = await stack.token('sam');
  admin = await stack.token('root', ['admin']);
}, 120_000);
afterAll(() => stack.close());

const call = async (method: string, url: string, token: string, body?: unknown) => {
  const res = await app.request(url, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, any> };
};
const logical = (extra: Record<string, unknown> = {}) => ({
  storage_backend: 'vast',
  image: 'run1/openslide_boxes.tiff',
  h5ad: 'run1/anndata_v0.7.8_adata.h5ad',
  ...extra,
});

describe('TIFF facts from every fixture', () => {
  it('reads dimensions, pages, tiling, compression, OME sizes and pyramid levels', async () => {
    const boxes = await readTiffFacts(fx('tiff/openslide_boxes.tiff'));
    expect(boxes).toMatchObject({
      width: 300,
      height: 250,
      samples: 3,
      bitDepth: 8,
      pages: 4,
      tiled: true,
      compression: 'Deflate',
      omeXml: false,
    });
    expect(boxes.levels.map((l) => [l.width, l.height])).toEqual([
      [300, 250],
      [150, 125],
      [75, 62],
      [37, 31],
    ]);
    const ome = await readTiffFacts(fx('tiff/libvips_multi-channel-z-series.ome.tif'));
    expect(ome).toMatchObject({
      width: 439,
      height: 167,
      pages: 15,
      tiled: false,
      omeXml: true,
      sizeC: 3,
      sizeZ: 5,
      sizeT: 1,
      compression: 'none',
    });
    expect(ome.levels).toHaveLength(1);
    expect(await readTiffFacts(fx('tiff/ometypes_ome.tiff'))).toMatchObject({
      width: 6,
      height: 6,
      pages: 2,
      omeXml: true,
      sizeC: 2,
    });
    const small = await readTiffFacts(fx('tiff/openslide_small.svs'));
    expect(small).toMatchObject({
      width: 16,
      height: 16,
      tiled: true,
      pages: 2,
      compression: 'JPEG',
    });
    // Aperio's second IFD (stripped) is the thumbnail, not a plane or a level.
    expect(small.levels).toHaveLength(1);
    expect(small.associated).toEqual([
      { kind: 'thumbnail', page: 1, width: 16, height: 16, tiled: false },
    ]);
    expect(await readTiffFacts(fx('tiff/libvips_ojpeg-tile.tif'))).toMatchObject({
      width: 234,
      height: 213,
      tiled: true,
      compression: expect.stringContaining('old-style JPEG'),
    });
    expect(await readTiffFacts(fx('tiff/libvips_sample.tif'))).toMatchObject({
      width: 290,
      height: 442,
      samples: 3,
      bitDepth: 16,
      tiled: false,
    });
    await expect(readTiffFacts(fx('tiff/openslide_unopenable.tiff'))).rejects.toThrow(
      'unsupported TIFF compression 52479',
    );
  });
});

describe('TIFF facts from files other writers make (tifffile, libtiff via Pillow)', () => {
  let dir: string;
  const made = (kind: TiffKind) => {
    const file = path.join(dir, `${kind}.tif`);
    writeTiff(kind, file);
    return file;
  };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-tiffs-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("lists an SVS slide's label, macro and thumbnail as associated images, never as levels", async () => {
    const pyramid = await readTiffFacts(made('svs-pyramid'));
    expect(pyramid.levels.map((l) => [l.width, l.height, l.tiled])).toEqual([
      [2048, 1536, true],
      [512, 384, true],
      [128, 96, true],
    ]);
    expect(pyramid.associated.map((a) => [a.kind, a.page, a.width, a.height])).toEqual([
      ['thumbnail', 1, 256, 192],
      ['label', 4, 380, 400],
      ['macro', 5, 1280, 420],
    ]);
    // Without reduced levels the slide is one level: the thumbnail (same aspect, smaller) and the
    // label (NewSubfileType 1) are not levels either.
    const flat = await readTiffFacts(made('svs-flat'));
    expect(flat.levels).toEqual([{ width: 2048, height: 1536, tiled: true }]);
    expect(flat.associated.map((a) => a.kind)).toEqual(['thumbnail', 'label', 'macro']);
  });

  it('reads the header facts of a CCITT Group 4 TIFF without its codec', async () => {
    expect(await readTiffFacts(made('ccitt-g4'))).toMatchObject({
      width: 1728,
      height: 1100,
      samples: 1,
      bitDepth: 1,
      tiled: false,
      compression: 'CCITT Group 4 (headers only; pixels not decodable here)',
    });
  });

  it('calls a page tiled when it has tiles, even with strip tags beside them (quad-tile.tif)', async () => {
    const facts = await readTiffFacts(made('tiles-and-strips'));
    expect(facts).toMatchObject({ width: 512, height: 384, tiled: true });
    expect(facts.levels).toEqual([{ width: 512, height: 384, tiled: true }]);
  });

  it('prefers the OME-XML when the first IFD has two descriptions (Micro-Manager)', async () => {
    expect(await readTiffFacts(made('two-descriptions'))).toMatchObject({
      width: 64,
      height: 48,
      bitDepth: 16,
      pages: 10,
      omeXml: true,
      sizeC: 1,
      sizeZ: 1,
      sizeT: 10,
    });
  });

  it('registers a non-pyramidal slide without offering the image itself as its preview', async () => {
    const registerSlide = async (kind: TiffKind) => {
      await copyFile(made(kind), path.join(vast, 'amick', 'run1', `${kind}.svs`));
      const r = await call(
        'POST',
        '/api/v1/datasets/register',
        amick,
        logical({ image: `run1/${kind}.svs` }),
      );
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body.manifest;
    };
    const flat = await registerSlide('svs-flat');
    expect(flat.viewer.preview_path).toBeNull();
    expect(flat.image.associated).toHaveLength(3);
    const pyramid = await registerSlide('svs-pyramid');
    expect(pyramid.viewer.preview_path).toBe(pyramid.image_path);
  });
});

describe('AnnData facts from every fixture', () => {
  it('reads n_obs, n_vars and obs/var columns of modern, 0.7 and legacy files', async () => {
    expect(await readAnnDataFacts(fx('h5ad/anndata_v0.11.4_adata.h5ad'))).toMatchObject({
      nObs: 10,
      nVars: 20,
      encoding: 'anndata',
      hasX: false,
    });
    const v07 = await readAnnDataFacts(fx('h5ad/anndata_v0.7.8_adata.h5ad'));
    expect(v07).toMatchObject({ nObs: 30, nVars: 20, hasX: true });
    expect(v07.obs).toMatchObject({
      obs_cat: 'category',
      cat_ordered: 'category',
      float64: 'float64',
      int64: 'int64',
      uint8: 'uint8',
    });
    const legacy = await readAnnDataFacts(fx('h5ad/anndata_v0.5.0_adata.h5ad'));
    expect(legacy).toMatchObject({ nObs: 700, nVars: 765, encoding: 'legacy-compound' });
    // anndata 0.5 keeps categoricals as int8 codes in the compound, labels in uns/<col>_categories.
    expect(legacy.obs).toMatchObject({
      n_genes: 'int64',
      percent_mito: 'float32',
      louvain: 'category',
      bulk_labels: 'category',
      phase: 'category',
    });
    expect(legacy.var.highly_variable).toBe('bool');
    await expect(readAnnDataFacts(fx('hdf5/h5wasm_array.h5'))).rejects.toThrow(
      "no 'obs' in the file",
    );
  });
});

describe('registration', () => {
  it('registers logical references in place with a manifest a viewer can trust', async () => {
    const r = await call(
      'POST',
      '/api/v1/datasets/register',
      amick,
      logical({ dataset_id: 'Boxes Run #1', marker_cols: ['obs_cat'] }),
    );
    expect(r.status).toBe(201);
    const m = r.body.manifest;
    expect(m.dataset_id).toBe('boxes-run-1');
    expect(m.image_path).toBe(path.join(vast, 'amick/run1/openslide_boxes.tiff'));
    expect(m.source_info.image).toMatchObject({
      storage_backend: 'vast',
      relative_path: 'amick/run1/openslide_boxes.tiff',
      original_path: 'run1/openslide_boxes.tiff',
      size: 7696,
    });
    expect(m.image.levels).toHaveLength(4);
    expect(m.anndata).toMatchObject({ nObs: 30, nVars: 20 });
    expect(m.viewer).toMatchObject({
      autoload: true,
      exceeds_16k: false,
      preview_path: m.image_path,
    });
    expect(m.copied).toBe(false);
    const onDisk = JSON.parse(
      await readFile(path.join(stack.config.dataRoot, 'boxes-run-1', 'manifest.json'), 'utf8'),
    );
    expect(onDisk.dataset_id).toBe('boxes-run-1');
    // The same files again: idempotent. Other files under the same id: 409 unless overwrite.
    expect(
      (
        await call(
          'POST',
          '/api/v1/datasets/register',
          amick,
          logical({ dataset_id: 'boxes-run-1', marker_cols: ['obs_cat'] }),
        )
      ).status,
    ).toBe(200);
    const clash = await call(
      'POST',
      '/api/v1/datasets/register',
      amick,
      logical({ dataset_id: 'boxes-run-1', image: 'run1/libvips_multi-channel-z-series.ome.tif' }),
    );
    expect(clash.status).toBe(409);
    const over = await call(
      'POST',
      '/api/v1/datasets/register',
      amick,
      logical({
        dataset_id: 'boxes-run-1',
        image: 'run1/libvips_multi-channel-z-series.ome.tif',
        overwrite: true,
      }),
    );
    expect(over.status).toBe(201);
    expect(over.body.manifest.image).toMatchObject({ sizeZ: 5, sizeC: 3 });
  });

  it('registers server-visible paths (the existing clients) and applies the auto-load limit', async () => {
    const big = path.join(vast, 'amick', 'run1', 'big.tif');
    await copyFile(fx('tiff/libvips_multi-channel-z-series.ome.tif'), big);
    const r = await call('POST', '/api/v1/datasets/register', amick, {
      image_path: big,
      h5ad_path: path.join(vast, 'amick/run1/anndata_v0.7.8_adata.h5ad'),
    });
    expect(r.status).toBe(201);
    expect(r.body.manifest.dataset_id).toBe('big');
    expect(r.body.manifest.viewer).toMatchObject({
      autoload: false,
      autoload_reason: expect.stringContaining('above the auto-load limit'),
    });
  });

  it('copies when asked, streamed with a checksum, and delete removes copies but never originals', async () => {
    const r = await call(
      'POST',
      '/api/v1/datasets/register',
      amick,
      logical({ dataset_id: 'copied', copy_files: true }),
    );
    expect(r.status).toBe(201);
    const m = r.body.manifest;
    expect(m.copied).toBe(true);
    expect(m.image_path).toBe(
      path.join(stack.config.dataRoot, 'copied', 'raw', 'openslide_boxes.tiff'),
    );
    expect(m.source_info.image.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(m.image_path)).size).toBe(7696);
    const del = await call('DELETE', '/api/v1/datasets/copied', amick);
    expect(del.body.status).toBe('deleted');
    await expect(stat(m.image_path)).rejects.toThrow();
    expect((await stat(path.join(vast, 'amick/run1/openslide_boxes.tiff'))).size).toBe(7696);
    expect((await call('GET', '/api/v1/datasets/copied', amick)).status).toBe(404);
  });

  it('lists, gets and serves files with Range, and reports stale and missing sources', async () => {
    await call(
      'POST',
      '/api/v1/datasets/register',
      amick,
      logical({ dataset_id: 'served', image: 'run1/openslide_boxes.tiff' }),
    );
    const list = await call('GET', '/api/v1/datasets?limit=100', amick);
    expect(list.body.datasets.map((d: { dataset_id: string }) => d.dataset_id)).toContain('served');
    expect((await call('GET', '/api/v1/datasets', sam)).body.datasets).toEqual([]);
    const whole = await app.request('/api/v1/datasets/served/files/image', {
      headers: { authorization: `Bearer ${amick}` },
    });
    expect(whole.status).toBe(200);
    expect(
      Buffer.from(await whole.arrayBuffer()).equals(
        await readFile(fx('tiff/openslide_boxes.tiff')),
      ),
    ).toBe(true);
    const part = await app.request('/api/v1/datasets/served/files/image', {
      headers: { authorization: `Bearer ${amick}`, range: 'bytes=0-3' },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 0-3/7696');
    expect(Buffer.from(await part.arrayBuffer())).toEqual(
      (await readFile(fx('tiff/openslide_boxes.tiff'))).subarray(0, 4),
    );
    const bad = await app.request('/api/v1/datasets/served/files/image', {
      headers: { authorization: `Bearer ${amick}`, range: 'bytes=9999-' },
    });
    expect(bad.status).toBe(416);
    // Another user cannot see it.
    expect((await call('GET', '/api/v1/datasets/served', sam)).status).toBe(404);
    // The source changes: every read says so instead of serving it silently.
    const file = path.join(vast, 'amick/run1/openslide_boxes.tiff');
    await utimes(file, new Date(), new Date(Date.now() + 60_000));
    const verify = await call('POST', '/api/v1/datasets/served/verify', amick);
    expect(verify.body).toMatchObject({ status: 'stale', sources: { image: { state: 'stale' } } });
    expect((await call('GET', '/api/v1/datasets/served', amick)).body.integrity.status).toBe(
      'stale',
    );
    const stale = await app.request('/api/v1/datasets/served/files/image', {
      headers: { authorization: `Bearer ${amick}` },
    });
    expect(stale.status).toBe(409);
  });
});

describe('datasets on the object store', () => {
  it('registers objects of an s3 backend, reads facts with ranged reads, and redirects file requests to presigned URLs', async () => {
    const s3 = stack.services.s3.internal;
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const tiff = await readFile(fx('tiff/openslide_boxes.tiff'));
    await s3.send(
      new PutObjectCommand({ Bucket: stack.bucket, Key: 'archive/amick/boxes.tiff', Body: tiff }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.bucket,
        Key: 'archive/amick/cells.h5ad',
        Body: await readFile(fx('h5ad/anndata_v0.5.0_adata.h5ad')),
      }),
    );
    const r = await call('POST', '/api/v1/datasets/register', amick, {
      storage_backend: 'archive',
      image: 'boxes.tiff',
      h5ad: 'cells.h5ad',
      dataset_id: 'in-bucket',
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.manifest.image_path).toBe(`s3://${stack.bucket}/archive/amick/boxes.tiff`);
    expect(r.body.manifest.image.levels).toHaveLength(4);
    expect(r.body.manifest.anndata).toMatchObject({ nObs: 700, nVars: 765 });
    const res = await app.request('/api/v1/datasets/in-bucket/files/image', {
      headers: { authorization: `Bearer ${amick}` },
    });
    expect(res.status).toBe(302);
    const location = res.headers.get('location') as string;
    expect(location).toContain('X-Amz-Signature=');
    expect(Buffer.from(await (await fetch(location)).arrayBuffer()).equals(tiff)).toBe(true);
    // A copy pulls the bytes out of the bucket into the data root.
    const copied = await call('POST', '/api/v1/datasets/register', amick, {
      storage_backend: 'archive',
      image: 'boxes.tiff',
      h5ad: 'cells.h5ad',
      dataset_id: 'in-bucket-copy',
      copy_files: true,
    });
    expect((await stat(copied.body.manifest.image_path)).size).toBe(tiff.length);
    // The object is replaced: the dataset reports it and refuses to serve it.
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.bucket,
        Key: 'archive/amick/boxes.tiff',
        Body: Buffer.concat([tiff, Buffer.from('x')]),
      }),
    );
    expect((await call('POST', '/api/v1/datasets/in-bucket/verify', amick)).body.status).toBe(
      'stale',
    );
    expect(
      (
        await app.request('/api/v1/datasets/in-bucket/files/image', {
          headers: { authorization: `Bearer ${amick}` },
        })
      ).status,
    ).toBe(409);
    expect(
      (
        await call('POST', '/api/v1/datasets/register', amick, {
          storage_backend: 'archive',
          image: 'nope.tiff',
          h5ad: 'cells.h5ad',
        })
      ).status,
    ).toBe(404);
  });
});

describe('hostile input gets a specific 4xx and leaves no manifest', () => {
  const cases: [string, Record<string, unknown>, number, RegExp][] = [
    [
      'traversal in image',
      logical({ image: '../sam/ome.tiff' }),
      400,
      /Path escapes base directory/,
    ],
    [
      'traversal in h5ad',
      logical({ h5ad: 'run1/../../../outside/secret.h5ad' }),
      400,
      /h5ad: Path escapes/,
    ],
    ['absolute logical path', logical({ image: '/etc/passwd' }), 400, /image:/],
    [
      'symlink out of the root',
      logical({ h5ad: 'run1/link.h5ad' }),
      400,
      /Path escapes base directory/,
    ],
    [
      "another user's directory",
      logical({ user_subdir: 'sam', image: 'ome.tiff' }),
      403,
      /user_subdir/,
    ],
    [
      'unknown backend',
      logical({ storage_backend: 'gdrive' }),
      404,
      /Backend 'gdrive' not configured/,
    ],
    ['missing file', logical({ image: 'run1/nope.tif' }), 404, /image: file not found/],
    ['directory instead of file', logical({ image: 'run1' }), 400, /image: is a directory/],
    [
      'TIFF that is really text',
      logical({ image: 'run1/fake.tif' }),
      400,
      /image: not a readable TIFF/,
    ],
    [
      'unreadable TIFF compression',
      logical({ image: 'run1/openslide_unopenable.tiff' }),
      400,
      /unsupported TIFF compression 52479/,
    ],
    ['h5ad that is a TIFF', logical({ h5ad: 'run1/openslide_boxes.tiff' }), 400, /h5ad: .*HDF5/],
    [
      'unknown marker column',
      logical({ marker_cols: ['CD3', 'obs_cat'] }),
      400,
      /marker_cols: .*CD3/,
    ],
    [
      'path outside every backend',
      { image_path: '/etc/passwd', h5ad_path: '/etc/hosts' },
      403,
      /image_path: is outside every configured storage backend/,
    ],
    [
      'relative server path',
      { image_path: 'run1/x.tif', h5ad_path: 'y' },
      400,
      /image_path: must be an absolute server path/,
    ],
    [
      'mixed forms',
      { image_path: '/x', storage_backend: 'vast', image: 'a', h5ad: 'b' },
      400,
      /image_path/,
    ],
  ];
  for (const [name, body, status, message] of cases) {
    it(name, async () => {
      const r = await call('POST', '/api/v1/datasets/register', amick, {
        dataset_id: 'hostile',
        ...body,
      });
      expect(r.status).toBe(status);
      expect(r.body.message).toMatch(message);
      expect(JSON.stringify(r.body)).not.toMatch(/at .*\.(ts|js):\d+/);
      await expect(
        stat(path.join(stack.config.dataRoot, 'hostile', 'manifest.json')),
      ).rejects.toThrow();
    });
  }

  it("refuses other users' server paths unless admin", async () => {
    const body = {
      image_path: path.join(vast, 'sam/ome.tiff'),
      h5ad_path: path.join(vast, 'amick/run1/anndata_v0.7.8_adata.h5ad'),
      dataset_id: 'cross',
    };
    expect((await call('POST', '/api/v1/datasets/register', amick, body)).status).toBe(403);
    expect((await call('POST', '/api/v1/datasets/register', admin, body)).status).toBe(201);
  });

  it("a sub with a '/' is its own encoded folder, not a folder inside another user's (issue 19.4)", async () => {
    const intruder = await stack.token('amick/run1');
    // Logical form: the default user directory is 'amick%2Frun1', which does not exist.
    const logicalTry = await call('POST', '/api/v1/datasets/register', intruder, {
      dataset_id: 'intruder-a',
      storage_backend: 'vast',
      image: 'openslide_boxes.tiff',
      h5ad: 'anndata_v0.7.8_adata.h5ad',
    });
    expect(logicalTry.status).toBe(404);
    expect(logicalTry.body.message).toContain('amick%2Frun1');
    // Naming amick's directory explicitly is someone else's directory.
    const named = await call('POST', '/api/v1/datasets/register', intruder, {
      ...logical(),
      dataset_id: 'intruder-b',
      user_subdir: 'amick',
    });
    expect(named.status).toBe(403);
    // Server-path form: amick/run1/... is not below 'amick%2Frun1/'.
    const serverPath = await call('POST', '/api/v1/datasets/register', intruder, {
      dataset_id: 'intruder-c',
      image_path: path.join(vast, 'amick/run1/openslide_boxes.tiff'),
      h5ad_path: path.join(vast, 'amick/run1/anndata_v0.7.8_adata.h5ad'),
    });
    expect(serverPath.status).toBe(403);
    expect(serverPath.body.message).toContain("outside your directory 'amick%2Frun1'");
  });

  it('answers a 200 MB JSON body with 413 without reading it all', async () => {
    const huge = Buffer.alloc(200 * 1024 * 1024, 0x20);
    const res = await app.request('/api/v1/datasets/register', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${amick}`,
        'content-length': String(huge.length),
      },
      body: huge,
    });
    expect(res.status).toBe(413);
    const chunked = await app.request('/api/v1/datasets/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${amick}` },
      body: new ReadableStream({
        pull(ctl) {
          ctl.enqueue(new Uint8Array(1024 * 1024).fill(0x20));
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });
});

describe("symlinks in a user's own folder never reach another user's files", () => {
  const bobDir = () => path.join(vast, 'bob');
  beforeAll(async () => {
    await mkdir(bobDir(), { recursive: true });
    await copyFile(fx('tiff/openslide_boxes.tiff'), path.join(bobDir(), 'img.tif'));
    await copyFile(fx('h5ad/anndata_v0.7.8_adata.h5ad'), path.join(bobDir(), 'cells.h5ad'));
    await symlink(bobDir(), path.join(vast, 'amick', 'boblink'));
  });

  for (const field of ['image', 'h5ad'] as const) {
    it(`refuses ${field} through amick/boblink -> bob/ with a 403 naming the field`, async () => {
      const r = await call(
        'POST',
        '/api/v1/datasets/register',
        amick,
        logical({
          dataset_id: 'via-link',
          ...(field === 'image' ? { image: 'boblink/img.tif' } : { h5ad: 'boblink/cells.h5ad' }),
        }),
      );
      expect(r.status).toBe(403);
      expect(r.body.details).toMatchObject({ field });
      expect(r.body.message).toMatch(
        new RegExp(
          `^${field}: leads \\(after following symlinks\\) outside your directory 'amick'`,
        ),
      );
      expect(r.body.message).not.toContain(bobDir());
      await expect(
        stat(path.join(stack.config.dataRoot, 'via-link', 'manifest.json')),
      ).rejects.toThrow();
    });
  }

  it('refuses the same file as a server path, and an admin may still register it', async () => {
    const body = {
      image_path: path.join(vast, 'amick', 'boblink', 'img.tif'),
      h5ad_path: path.join(vast, 'amick/run1/anndata_v0.7.8_adata.h5ad'),
      dataset_id: 'via-link-server',
    };
    const r = await call('POST', '/api/v1/datasets/register', amick, body);
    expect(r.status).toBe(403);
    expect(r.body.details).toMatchObject({ field: 'image_path' });
    expect((await call('POST', '/api/v1/datasets/register', admin, body)).status).toBe(201);
  });

  it('does not serve a source swapped for a symlink to bob after registration, whole or ranged', async () => {
    const own = path.join(vast, 'amick', 'swap');
    await mkdir(own, { recursive: true });
    await copyFile(fx('tiff/openslide_boxes.tiff'), path.join(own, 'img.tif'));
    await copyFile(fx('h5ad/anndata_v0.7.8_adata.h5ad'), path.join(own, 'cells.h5ad'));
    // Same bytes and mtimes as bob's files: the swap cannot be caught as a stale source.
    const when = new Date('2024-01-02T03:04:05Z');
    for (const f of ['img.tif', 'cells.h5ad']) {
      await utimes(path.join(own, f), when, when);
      await utimes(path.join(bobDir(), f), when, when);
    }
    const reg = await call('POST', '/api/v1/datasets/register', amick, {
      storage_backend: 'vast',
      image: 'swap/img.tif',
      h5ad: 'swap/cells.h5ad',
      dataset_id: 'swapped',
    });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    expect(reg.body.manifest.source_info.image.user_dir).toBe('amick');
    const get = (role: string, range?: string) =>
      app.request(`/api/v1/datasets/swapped/files/${role}`, {
        headers: { authorization: `Bearer ${amick}`, ...(range ? { range } : {}) },
      });
    expect((await get('image', 'bytes=0-3')).status).toBe(206);
    for (const f of ['img.tif', 'cells.h5ad']) {
      await rm(path.join(own, f));
      await symlink(path.join(bobDir(), f), path.join(own, f));
    }
    for (const [role, range] of [
      ['image', undefined],
      ['image', 'bytes=0-3'],
      ['h5ad', 'bytes=0-99'],
    ] as const) {
      const res = await get(role, range);
      expect(res.status).toBe(403);
      const body = (await res.json()) as { message: string; details: { field: string } };
      expect(body.details.field).toBe(role);
      expect(body.message).toMatch(/outside the directory it was registered in/);
    }
    const verify = await call('POST', '/api/v1/datasets/swapped/verify', amick);
    expect(verify.body).toMatchObject({
      status: 'outside',
      sources: { image: { state: 'outside' } },
    });
  });

  it("property: a reference is accepted exactly when the file it reaches is amick's", async () => {
    // Every real file holds its owner's name, an oracle independent of realpath: whatever chain of
    // generated symlinks a relative path walks, it is accepted only if it ends on one of amick's files.
    const root = await mkdtemp(path.join(os.tmpdir(), 'sluice-confine-'));
    const base = path.join(root, 'base');
    const r = new StorageResolver([{ name: 'fs', type: 'local', basePath: base }], { bucket: 'b' });
    const names = ['a', 'b', 'l1', 'l2', 'sub'];
    const targets = [
      '../bob',
      '../bob/f',
      'sub',
      'sub/f',
      'f',
      'l1',
      'l2',
      '..',
      '../..',
      '../../outside/f',
      '../alice/f',
      'ABS:bob/sub',
      'ABS:alice/sub/f',
      'ABS:outside',
    ];
    const link = fc.record({
      at: fc.constantFrom('', 'sub/'),
      name: fc.constantFrom(...names),
      target: fc.constantFrom(...targets),
    });
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(link, { maxLength: 4 }),
        fc.array(fc.constantFrom(...names, 'f'), { minLength: 1, maxLength: 4 }),
        async (links, query) => {
          await rm(root, { recursive: true, force: true });
          for (const who of ['alice', 'bob']) {
            await mkdir(path.join(base, who, 'sub'), { recursive: true });
            await writeFile(path.join(base, who, 'f'), who);
            await writeFile(path.join(base, who, 'sub', 'f'), who);
          }
          await mkdir(path.join(root, 'outside'), { recursive: true });
          await writeFile(path.join(root, 'outside', 'f'), 'outside');
          for (const l of links) {
            const where = path.join(base, 'alice', l.at, l.name);
            const to = l.target.startsWith('ABS:')
              ? l.target.endsWith('outside')
                ? path.join(root, 'outside')
                : path.join(base, l.target.slice(4))
              : l.target;
            await symlink(to, where).catch(() => {}); // the name may be taken: keep the first
          }
          const rel = query.join('/');
          const real = await r
            .resolvePath('fs', 'alice', rel)
            .then((file) => r.realPathInside('fs', 'alice', file))
            .catch(() => undefined);
          const content = await readFile(path.join(base, 'alice', rel), 'utf8').catch(() => null);
          // Registration also requires a regular file (directories are a 400 of their own).
          const ok = real !== undefined && (await stat(real)).isFile();
          if (ok) accepted++;
          else refused++;
          expect(ok).toBe(content === 'alice');
          if (ok) expect(await readFile(real as string, 'utf8')).toBe('alice');
        },
      ),
      { numRuns: 150 },
    );
    await rm(root, { recursive: true, force: true });
    // The generator reaches both outcomes, so the property is not vacuous.
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});

describe('one canonical storage for every deployment', () => {
  it('a dataset registered through one instance is listed and served by another that mounts the same storage through a symlink', async () => {
    const other = path.join(stack.tmp, 'other-machine');
    await mkdir(other, { recursive: true });
    await symlink(vast, path.join(other, 'vast-mount'));
    await symlink(stack.config.dataRoot, path.join(other, 'data-mount'));
    await writeFile(
      path.join(other, 'storage.toml'),
      `[storage.vast]\ntype = "nfs"\nbase_path = "${path.join(other, 'vast-mount')}"\n`,
    );
    const config = parseConfig({
      ...Object.fromEntries(
        Object.entries({
          JWT_SECRET: stack.config.auth.jwtSecret,
          DATABASE_URL: stack.databaseUrl,
          MINIO_ENDPOINT: stack.config.s3.endpoint,
          MINIO_ACCESS_KEY: stack.config.s3.accessKey,
          MINIO_SECRET_KEY: stack.config.s3.secretKey,
          MINIO_BUCKET: stack.bucket,
        }),
      ),
      SLUICE_CONFIG: path.join(other, 'storage.toml'),
      AIMINO_DATA_ROOT: path.join(other, 'data-mount'),
    });
    const services = createServices(config, { log: silentLogger });
    const b = createDatasetsApp(services);
    try {
      const reg = await call(
        'POST',
        '/api/v1/datasets/register',
        amick,
        logical({ dataset_id: 'shared-one', image: 'run1/libvips_multi-channel-z-series.ome.tif' }),
      );
      expect(reg.status, JSON.stringify(reg.body)).toBe(201);
      const headers = { authorization: `Bearer ${amick}` };
      const listed = (await (
        await b.request('/api/v1/datasets?limit=500', { headers })
      ).json()) as { datasets: { dataset_id: string }[] };
      expect(listed.datasets.map((d) => d.dataset_id)).toContain('shared-one');
      const got = (await (await b.request('/api/v1/datasets/shared-one', { headers })).json()) as {
        integrity: { status: string; sources: { image: { path: string } } };
      };
      expect(got.integrity.status).toBe('ok');
      // Instance B resolves the logical reference through ITS mount point.
      expect(got.integrity.sources.image.path.startsWith(path.join(other, 'vast-mount'))).toBe(
        true,
      );
      const file = await b.request('/api/v1/datasets/shared-one/files/image', {
        headers: { ...headers, range: 'bytes=0-1' },
      });
      expect(file.status).toBe(206);
      // And B registers; A serves.
      const viaB = await b.request('/api/v1/datasets/register', {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(logical({ dataset_id: 'from-b' })),
      });
      expect(viaB.status, await viaB.clone().text()).toBe(201);
      expect((await call('GET', '/api/v1/datasets/from-b', amick)).body.integrity.status).toBe(
        'ok',
      );
      expect((await app.request('/api/v1/datasets/from-b/files/h5ad', { headers })).status).toBe(
        200,
      );
    } finally {
      await services.close();
      await rm(other, { recursive: true, force: true });
    }
  });
});
