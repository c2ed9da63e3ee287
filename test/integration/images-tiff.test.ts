import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatasetsApp } from '../../functions/datasets/app.ts';
import { readTiffFacts } from '../../functions/datasets/tiff-facts.ts';
import { type ImageKind, writeImage } from '../helpers/image-writers.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let app: ReturnType<typeof createDatasetsApp>;
let dir: string;
let amick: string;
const fx = (p: string) => path.resolve('test/fixtures', p);
const file = (kind: ImageKind) => path.join(dir, 'amick', `${kind}.tif`);

const KINDS: ImageKind[] = [
  'ome-subifd-pyramid',
  'ome-multi-series',
  'ome-40-channels',
  'imagej-hyperstack',
  'bigtiff-tiles',
  'bigtiff-strips',
  'vips-pyramid',
  'vips-subifd',
  'vips-zstd-bigtiff',
  'vips-jpeg',
  'wide-16k',
];

beforeAll(async () => {
  const base = await mkdtemp(path.join(os.tmpdir(), 'sluice-images-'));
  dir = path.join(base, 'vast');
  await mkdir(path.join(dir, 'amick'), { recursive: true });
  for (const k of KINDS) writeImage(k, file(k));
  await copyFile(fx('h5ad/anndata_v0.7.8_adata.h5ad'), path.join(dir, 'amick', 'cells.h5ad'));
  // A copy that stopped early, and a text file that calls itself a TIFF.
  const whole = await readFile(file('ome-subifd-pyramid'));
  await writeFile(path.join(dir, 'amick', 'cut.ome.tif'), whole.subarray(0, 300_000));
  await writeFile(path.join(dir, 'amick', 'notes.tif'), 'plain text, not an image\n');
  await writeFile(
    path.join(base, 'storage.toml'),
    `[storage.vast]\ntype = "nfs"\nbase_path = "${dir}"\n`,
  );
  stack = await createTestStack({ SLUICE_CONFIG: path.join(base, 'storage.toml') });
  app = createDatasetsApp(stack.services);
  amick = await stack.token('amick');
}, 300_000);
afterAll(() => stack?.close());

const register = async (image: string, extra: Record<string, unknown> = {}) => {
  const res = await app.request('/api/v1/datasets/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${amick}` },
    body: JSON.stringify({ storage_backend: 'vast', image, h5ad: 'cells.h5ad', ...extra }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};

describe('TIFF layouts written by tifffile and libvips', () => {
  it('reads every level of a tifffile SubIFD pyramid, with channel names and pixel type', async () => {
    const f = await readTiffFacts(file('ome-subifd-pyramid'));
    expect(f).toMatchObject({
      width: 2048,
      height: 1536,
      pages: 2,
      subIfds: 2,
      pyramid: 'subifds',
      pixelType: 'uint16',
      sizeC: 2,
      sizeZ: 1,
      sizeT: 1,
      dimensionsFrom: 'ome-xml',
      channels: ['DAPI', 'CD3'],
    });
    expect(f.levels).toEqual([
      { width: 2048, height: 1536, tiled: true },
      { width: 1024, height: 768, tiled: true },
      { width: 512, height: 384, tiled: true },
    ]);
    // The second channel's IFD is a plane, never a level or an associated image.
    expect(f.associated).toEqual([]);
  });

  it('reports each image of a multi-series OME-TIFF with its own size, type and levels', async () => {
    const f = await readTiffFacts(file('ome-multi-series'));
    expect(f.series.map((s) => [s.name, s.width, s.height, s.sizeC, s.pixelType])).toEqual([
      ['overview', 1024, 768, 3, 'uint8'],
      ['detail', 300, 200, 1, 'float32'],
    ]);
    expect(f.series[0]?.levels.map((l) => l.width)).toEqual([1024, 512]);
    expect(f.series[1]).toMatchObject({ firstPage: 3, levels: [{ width: 300, height: 200 }] });
    // The second series is smaller with another aspect: not a level of the first.
    expect(f.levels.map((l) => l.width)).toEqual([1024, 512]);
  });

  it('reads 40 channels of a Bio-Formats-style OME-TIFF, one IFD per channel', async () => {
    const f = await readTiffFacts(file('ome-40-channels'));
    expect(f).toMatchObject({ pages: 40, sizeC: 40, sizeZ: 1, sizeT: 1, pixelType: 'uint16' });
    expect(f.channels).toHaveLength(40);
    expect(f.channels[39]).toBe('cycle9_marker39');
    expect(f.levels).toHaveLength(1);
  });

  it('takes C/Z/T of an ImageJ hyperstack from its ImageDescription', async () => {
    expect(await readTiffFacts(file('imagej-hyperstack'))).toMatchObject({
      pages: 24,
      omeXml: false,
      sizeC: 2,
      sizeZ: 3,
      sizeT: 4,
      dimensionsFrom: 'imagej',
      pixelType: 'uint16',
    });
  });

  it('reads BigTIFF with tiles and with strips, and every common compression', async () => {
    expect(await readTiffFacts(file('bigtiff-tiles'))).toMatchObject({
      bigTiff: true,
      tiled: true,
      compression: 'Deflate',
      pixelType: 'int16',
    });
    expect(await readTiffFacts(file('bigtiff-strips'))).toMatchObject({
      bigTiff: true,
      tiled: false,
      compression: 'none',
      pixelType: 'uint8',
    });
    expect(await readTiffFacts(file('vips-zstd-bigtiff'))).toMatchObject({
      bigTiff: true,
      compression: 'Zstandard',
    });
    expect((await readTiffFacts(file('vips-jpeg'))).compression).toBe('JPEG');
  });

  it('reads libvips pyramids, as a NewSubfileType chain and as SubIFDs', async () => {
    const sizes = [
      [3000, 2000],
      [1500, 1000],
      [750, 500],
      [375, 250],
      [187, 125],
      [93, 62],
    ];
    const chain = await readTiffFacts(file('vips-pyramid'));
    expect(chain).toMatchObject({ pyramid: 'ifd-chain', compression: 'LZW', pages: 6 });
    expect(chain.levels.map((l) => [l.width, l.height])).toEqual(sizes);
    const sub = await readTiffFacts(file('vips-subifd'));
    expect(sub).toMatchObject({ pyramid: 'subifds', compression: 'Deflate', pages: 1 });
    expect(sub.levels.map((l) => [l.width, l.height])).toEqual(sizes);
  });
});

describe('registering them', () => {
  it('uses a SubIFD pyramid as its own preview, without the 16k recommendation', async () => {
    const r = await register('ome-subifd-pyramid.tif');
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const m = r.body.manifest;
    expect(m.image.levels).toHaveLength(3);
    expect(m.viewer).toMatchObject({ preview_path: m.image_path, recommendation: null });
  });

  it('warns about an image over 16k without a pyramid', async () => {
    const r = await register('wide-16k.tif');
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.manifest.viewer).toMatchObject({ exceeds_16k: true, preview_path: null });
    expect(r.body.manifest.viewer.recommendation).toMatch(/16,384/);
  });

  it('refuses a truncated TIFF and a text file with a 400 naming the problem', async () => {
    const cut = await register('cut.ome.tif');
    expect(cut.status).toBe(400);
    expect(cut.body).toMatchObject({ code: 'INVALID_IMAGE', details: { field: 'image' } });
    expect(cut.body.message).toMatch(
      /^image: truncated: its image data runs to byte \d+ but the file has 300000 bytes/,
    );
    const text = await register('notes.tif');
    expect(text.status).toBe(400);
    expect(text.body).toMatchObject({ code: 'INVALID_IMAGE', details: { field: 'image' } });
    expect(text.body.message).toMatch(/^image: not a readable TIFF/);
  });
});
