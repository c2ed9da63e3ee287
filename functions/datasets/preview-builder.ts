import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { importExternal } from '../../shared/runtime/import-external.ts';
import { readTiffFacts, type TiffFacts } from './tiff-facts.ts';

/** A preview's levels are halved until the largest side is at most this. */
export const PREVIEW_SMALLEST_SIDE = 1024;
/** Chunks are 1x1x1xCHUNKxCHUNK (t, c, z, y, x). */
export const PREVIEW_CHUNK = 512;

/** What a finished preview holds, for the manifest. */
export interface PreviewSummary {
  /** NGFF version of the multiscales metadata. */
  ngff: '0.4';
  axes: string[];
  levels: { path: string; shape: number[]; chunks: number[] }[];
  channels: string[];
  pixelType: string;
  /** Uncompressed bytes of the smallest level (what a viewer loads first). */
  smallestLevelBytes: number;
}

type Numeric =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;
type NumericCtor = {
  new (n: number): Numeric;
  new (b: ArrayBufferLike): Numeric;
  BYTES_PER_ELEMENT: number;
};

/** Zarr v2 dtypes (little-endian) and typed arrays per pixel type. */
const DTYPES: Record<string, { zarr: string; ctor: NumericCtor; integer: boolean }> = {
  uint8: { zarr: '|u1', ctor: Uint8Array, integer: true },
  int8: { zarr: '|i1', ctor: Int8Array, integer: true },
  uint16: { zarr: '<u2', ctor: Uint16Array, integer: true },
  int16: { zarr: '<i2', ctor: Int16Array, integer: true },
  uint32: { zarr: '<u4', ctor: Uint32Array, integer: true },
  int32: { zarr: '<i4', ctor: Int32Array, integer: true },
  float32: { zarr: '<f4', ctor: Float32Array, integer: false },
  float64: { zarr: '<f8', ctor: Float64Array, integer: false },
};

/** A preview that cannot be built; the message says why (recorded as the job's failure). */
export class PreviewError extends Error {
  override name = 'PreviewError';
}

/** Level shapes (y, x): full resolution, then halved (rounding up) until the largest side fits. */
export function levelSizes(height: number, width: number): [number, number][] {
  const out: [number, number][] = [[height, width]];
  let [h, w] = [height, width];
  while (Math.max(h, w) > PREVIEW_SMALLEST_SIDE) {
    [h, w] = [Math.ceil(h / 2), Math.ceil(w / 2)];
    out.push([h, w]);
  }
  return out;
}

/**
 * The mean of each 2x2 block of `src` (`rows` x `width`, row-major), written into `dst` at
 * `offset` with row stride `stride` (ceil halves). Blocks cut by an odd edge average the pixels they
 * have. Integers are rounded half up, floats kept exact.
 */
export function halve(
  src: Numeric,
  rows: number,
  width: number,
  dst: Numeric,
  integer: boolean,
  stride = Math.ceil(width / 2),
  offset = 0,
): void {
  const r2 = Math.ceil(rows / 2);
  const fullW = width >> 1;
  const small = integer && src.BYTES_PER_ELEMENT <= 2;
  for (let y = 0; y < r2; y++) {
    const a = 2 * y * width;
    const twoRows = 2 * y + 1 < rows;
    const b = twoRows ? a + width : a;
    const o = offset + y * stride;
    if (integer && twoRows) {
      for (let x = 0; x < fullW; x++) {
        const i = a + 2 * x;
        const j = b + 2 * x;
        const sum =
          (src[i] as number) + (src[i + 1] as number) + (src[j] as number) + (src[j + 1] as number);
        // Sums of four 8- or 16-bit values fit in 31 bits: a shift is the rounded mean.
        dst[o + x] = small ? (sum + 2) >> 2 : Math.floor((sum + 2) / 4);
      }
    } else if (integer) {
      for (let x = 0; x < fullW; x++) {
        const i = a + 2 * x;
        dst[o + x] = Math.floor(((src[i] as number) + (src[i + 1] as number) + 1) / 2);
      }
    } else {
      const n = twoRows ? 4 : 2;
      for (let x = 0; x < fullW; x++) {
        const i = a + 2 * x;
        const j = b + 2 * x;
        const s =
          (src[i] as number) +
          (src[i + 1] as number) +
          (twoRows ? (src[j] as number) + (src[j + 1] as number) : 0);
        dst[o + x] = s / n;
      }
    }
    if (width & 1) {
      const i = width - 1;
      const n = twoRows ? 2 : 1;
      const s = (src[a + i] as number) + (twoRows ? (src[b + i] as number) : 0);
      dst[o + fullW] = integer ? Math.floor((s + (n >> 1)) / n) : s / n;
    }
  }
}

/** The IFD index and sample of plane (t, c, z) of the first series, from its dimension order. */
export function planeLocation(
  facts: Pick<TiffFacts, 'sizeC' | 'sizeZ' | 'sizeT' | 'samples' | 'dimensionOrder'>,
  firstPage: number,
  t: number,
  c: number,
  z: number,
): { page: number; sample: number } {
  // Channels stored as samples of one IFD (RGB) do not take IFDs of their own.
  const chunky = facts.samples > 1;
  const sizes: Record<string, number> = {
    C: chunky ? 1 : facts.sizeC,
    Z: facts.sizeZ,
    T: facts.sizeT,
  };
  const at: Record<string, number> = { C: chunky ? 0 : c, Z: z, T: t };
  let index = 0;
  let stride = 1;
  for (const d of facts.dimensionOrder.slice(2)) {
    index += (at[d] as number) * stride;
    stride *= sizes[d] as number;
  }
  return { page: firstPage + index, sample: chunky ? c : 0 };
}

/** A minimal filesystem store for zarrita: keys are paths below `root`. */
function fsStore(root: string) {
  const file = (key: string) => path.join(root, key.replace(/^\//, ''));
  // Chunk folders are made once each, not once per chunk (a band's chunks are written at once).
  const made = new Map<string, Promise<unknown>>();
  return {
    async get(key: string): Promise<Uint8Array | undefined> {
      return readFile(file(key)).then(
        (b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return undefined;
          throw err;
        },
      );
    },
    async set(key: string, value: Uint8Array): Promise<void> {
      const f = file(key);
      const dir = path.dirname(f);
      let dirMade = made.get(dir);
      if (!dirMade) {
        dirMade = mkdir(dir, { recursive: true });
        made.set(dir, dirMade);
      }
      await dirMade;
      await writeFile(f, value);
    },
  };
}

type Image = {
  getWidth(): number;
  getHeight(): number;
  getTileWidth(): number;
  getTileHeight(): number;
  getSamplesPerPixel(): number;
  littleEndian: boolean;
  planarConfiguration: 1 | 2;
  readRasters(opts: Record<string, unknown>): Promise<unknown>;
  getTileOrStrip(
    x: number,
    y: number,
    sample: number,
    decoder: { decode(b: ArrayBuffer): Promise<ArrayBuffer> },
  ): Promise<{ data: ArrayBuffer }>;
};

/**
 * geotiff's decoder for an image, with the parameters geotiff itself derives from the IFD (JPEG
 * tables, predictor, ...): a 1x1 read through a pool-shaped object hands them over.
 */
async function decoderFor(
  im: Image,
  getDecoder: (c: number, p: unknown) => Promise<{ decode(b: ArrayBuffer): Promise<ArrayBuffer> }>,
) {
  let bound: { compression: number; params: unknown } | undefined;
  const capture = {
    bindParameters(compression: number, params: unknown) {
      bound = { compression, params };
      return {
        decode: async (b: ArrayBuffer) => (await getDecoder(compression, params)).decode(b),
      };
    },
  };
  await im.readRasters({ window: [0, 0, 1, 1], samples: [0], pool: capture });
  if (!bound) throw new PreviewError('geotiff did not report how to decode this image');
  return getDecoder(bound.compression, bound.params);
}

/** Tile reads in flight at once (the file is read through libuv's thread pool). */
const READ_AHEAD = 8;

/**
 * Reads rows [y0, y1) of one sample of an image into a band of chunk buffers (chunk k holds columns
 * [k * chunkW, ...) with its own width as row stride), tile by tile (or strip by strip) through
 * geotiff's decoder: never more than a band of tiles in memory.
 */
async function readBand(
  im: Image,
  decoder: { decode(b: ArrayBuffer): Promise<ArrayBuffer> },
  sample: number,
  y0: number,
  y1: number,
  band: Band,
  bytesPerSample: number,
): Promise<void> {
  const width = im.getWidth();
  const tw = im.getTileWidth();
  const th = im.getTileHeight();
  const spp = im.planarConfiguration === 1 ? im.getSamplesPerPixel() : 1;
  const sampleInPixel = im.planarConfiguration === 1 ? sample : 0;
  const jobs: { tx: number; ty: number }[] = [];
  for (let ty = Math.floor(y0 / th); ty * th < y1; ty++)
    for (let tx = 0; tx * tw < width; tx++) jobs.push({ tx, ty });
  const place = (tx: number, ty: number, data: ArrayBuffer) => {
    if (!im.littleEndian && bytesPerSample > 1) swapBytes(new Uint8Array(data), bytesPerSample);
    const x0 = tx * tw;
    const x1 = Math.min(width, x0 + tw);
    const rowStart = Math.max(y0, ty * th);
    const rowEnd = Math.min(y1, (ty + 1) * th);
    const tileBytes = Buffer.from(data);
    const tile = spp === 1 ? undefined : new band.ctor(data);
    // A tile may cross chunk columns when its width does not divide the chunk width.
    for (let k = Math.floor(x0 / band.chunkW); k * band.chunkW < x1; k++) {
      const cx0 = Math.max(x0, k * band.chunkW);
      const cx1 = Math.min(x1, (k + 1) * band.chunkW);
      const cw = band.widthOf(k);
      const chunk = band.chunks[k] as Chunk;
      if (!tile && tw === cw && cx0 === x0 && cx1 - cx0 === cw) {
        // The tile is exactly this chunk's width: its rows are one run in both.
        const from = (rowStart - ty * th) * tw;
        tileBytes.copy(
          chunk.bytes,
          (rowStart - y0) * cw * bytesPerSample,
          from * bytesPerSample,
          (from + (rowEnd - rowStart) * tw) * bytesPerSample,
        );
        continue;
      }
      for (let y = rowStart; y < rowEnd; y++) {
        const from = (y - ty * th) * tw + (cx0 - x0);
        const to = (y - y0) * cw + (cx0 - k * band.chunkW);
        if (tile) {
          for (let x = 0; x < cx1 - cx0; x++)
            chunk.values[to + x] = tile[(from + x) * spp + sampleInPixel] as number;
        } else {
          tileBytes.copy(
            chunk.bytes,
            to * bytesPerSample,
            from * bytesPerSample,
            (from + cx1 - cx0) * bytesPerSample,
          );
        }
      }
    }
  };
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const { tx, ty } = jobs[next++] as { tx: number; ty: number };
      const { data } = await im.getTileOrStrip(tx, ty, sample, decoder);
      place(tx, ty, data);
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_AHEAD, jobs.length) }, worker));
}

function swapBytes(b: Uint8Array, n: number): void {
  for (let i = 0; i + n <= b.length; i += n) b.subarray(i, i + n).reverse();
}

/** One chunk buffer of a band, as typed values and as bytes (copied into without new views). */
interface Chunk {
  values: Numeric;
  bytes: Buffer;
}

/** A chunk-high band of one level, kept chunk by chunk so each is written with one copy. */
interface Band {
  ctor: NumericCtor;
  chunkW: number;
  chunks: Chunk[];
  widthOf(k: number): number;
}

function newBand(ctor: NumericCtor, width: number, chunkH: number): Band {
  const chunkW = Math.min(PREVIEW_CHUNK, width);
  const widthOf = (k: number) => Math.min(chunkW, width - k * chunkW);
  const chunks = Array.from({ length: Math.ceil(width / chunkW) }, (_, k) => {
    const values = new ctor(chunkH * widthOf(k));
    return { values, bytes: Buffer.from(values.buffer, values.byteOffset, values.byteLength) };
  });
  return { ctor, chunkW, chunks, widthOf };
}

/** One level's writer: collects rows into a chunk-high band, writes it, and feeds the next level. */
interface Level {
  height: number;
  width: number;
  arr: unknown;
  band: Band;
  chunkH: number;
  rows: number;
  /** Row of the level where `band` starts. */
  y: number;
}

/**
 * Builds a multiscale OME-Zarr (NGFF 0.4) preview of the first series of a TIFF at `outDir`: level 0
 * at full resolution, each next level the mean of 2x2 blocks of the one before, per channel and
 * plane, until the largest side is at most 1024; chunks of 1x1x1x512x512; channel names carried
 * over. Pixels are read a band of tiles at a time and written a chunk row at a time, so memory is
 * about two chunk rows per level whatever the image size. Written into `outDir` + a temporary suffix
 * and renamed into place at the end: a failed build leaves no half preview and keeps any older one.
 */
export async function buildPreview(
  source: string,
  outDir: string,
  opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<PreviewSummary> {
  const facts = await readTiffFacts(source);
  const dtype = DTYPES[facts.pixelType];
  if (!dtype)
    throw new PreviewError(`pixel type '${facts.pixelType}' is not supported for previews`);
  if (/not decodable/.test(facts.compression))
    throw new PreviewError(`compression ${facts.compression}`);
  const series = facts.series[0];
  if (!series) throw new PreviewError('the TIFF has no image');
  const geotiff = await importExternal<typeof import('geotiff')>('geotiff');
  const zarr = await importExternal<typeof import('zarrita')>('zarrita');
  const tiff = await geotiff.fromFile(source);
  const tmp = `${outDir}.tmp-${process.pid}-${Date.now()}`;
  try {
    const { sizeC, sizeZ, sizeT } = facts;
    const sizes = levelSizes(facts.height, facts.width);
    const channels = Array.from(
      { length: sizeC },
      (_, c) => facts.channels[c] ?? (sizeC === 1 ? 'C0' : `C${c}`),
    );
    const store = fsStore(tmp);
    await mkdir(tmp, { recursive: true });
    const axes = [
      { name: 't', type: 'time' },
      { name: 'c', type: 'channel' },
      { name: 'z', type: 'space' },
      { name: 'y', type: 'space' },
      { name: 'x', type: 'space' },
    ];
    const levelsMeta = sizes.map(([h, w], i) => ({
      path: String(i),
      shape: [sizeT, sizeC, sizeZ, h, w],
      chunks: [1, 1, 1, Math.min(PREVIEW_CHUNK, h), Math.min(PREVIEW_CHUNK, w)],
    }));
    for (const l of levelsMeta) {
      await store.set(
        `${l.path}/.zarray`,
        json({
          zarr_format: 2,
          shape: l.shape,
          chunks: l.chunks,
          dtype: dtype.zarr,
          compressor: null,
          fill_value: 0,
          order: 'C',
          filters: null,
          dimension_separator: '/',
        }),
      );
    }
    const root = zarr.root(store);
    const arrays = await Promise.all(
      levelsMeta.map((l) => zarr.open.v2(root.resolve(l.path), { kind: 'array' })),
    );
    const ranges = channels.map(() => ({ min: Number.POSITIVE_INFINITY, max: -Infinity }));
    const total = sizeT * sizeC * sizeZ * facts.height;
    let done = 0;
    for (let t = 0; t < sizeT; t++) {
      for (let c = 0; c < sizeC; c++) {
        for (let z = 0; z < sizeZ; z++) {
          const { page, sample } = planeLocation(facts, series.firstPage, t, c, z);
          const im = (await tiff.getImage(page)) as unknown as Image;
          if (im.getWidth() !== facts.width || im.getHeight() !== facts.height)
            throw new PreviewError(`IFD ${page} is not a ${facts.width}x${facts.height} plane`);
          const decoder = await decoderFor(
            im,
            geotiff.getDecoder as unknown as Parameters<typeof decoderFor>[1],
          );
          const levels: Level[] = sizes.map(([h, w], i) => ({
            height: h,
            width: w,
            arr: arrays[i],
            band: newBand(dtype.ctor, w, Math.min(PREVIEW_CHUNK, h)),
            chunkH: Math.min(PREVIEW_CHUNK, h),
            rows: 0,
            y: 0,
          }));
          // Writes a full (or the last) band of level i, then halves it into level i + 1.
          const flush = async (i: number): Promise<void> => {
            const L = levels[i] as Level;
            if (L.rows === 0) return;
            const next = levels[i + 1];
            // Slices (not indices) on t, c and z, and one chunk per call: zarrita then sees whole,
            // contiguous chunks and writes each with a single copy, without reading it back first.
            const writes = L.band.chunks.map((chunk, k) => {
              const cw = L.band.widthOf(k);
              const x = k * L.band.chunkW;
              const data = chunk.values.subarray(0, L.rows * cw);
              if (next) {
                // Level i + 1 column of this chunk's first pixel; its halves never cross a chunk.
                const gx = x / 2;
                const j = Math.floor(gx / next.band.chunkW);
                halve(
                  data,
                  L.rows,
                  cw,
                  (next.band.chunks[j] as Chunk).values,
                  dtype.integer,
                  next.band.widthOf(j),
                  next.rows * next.band.widthOf(j) + (gx - j * next.band.chunkW),
                );
              } else {
                const r = ranges[c] as { min: number; max: number };
                for (let q = 0; q < data.length; q++) {
                  const v = data[q] as number;
                  if (v < r.min) r.min = v;
                  if (v > r.max) r.max = v;
                }
              }
              return zarr.set(
                L.arr as never,
                [
                  zarr.slice(t, t + 1),
                  zarr.slice(c, c + 1),
                  zarr.slice(z, z + 1),
                  zarr.slice(L.y, L.y + L.rows),
                  zarr.slice(x, x + cw),
                ],
                {
                  data,
                  shape: [1, 1, 1, L.rows, cw],
                  stride: [L.rows * cw, L.rows * cw, L.rows * cw, cw, 1],
                } as never,
              );
            });
            await Promise.all(writes);
            if (next) {
              next.rows += Math.ceil(L.rows / 2);
              if (next.rows >= next.chunkH) await flush(i + 1);
            }
            L.y += L.rows;
            L.rows = 0;
          };
          // Two bands of level 0: the next is read from the TIFF while the current one is written.
          const top = levels[0] as Level;
          let ready = newBand(dtype.ctor, facts.width, top.chunkH);
          const read = (y0: number, into: Band) =>
            readBand(
              im,
              decoder,
              sample,
              y0,
              Math.min(facts.height, y0 + PREVIEW_CHUNK),
              into,
              dtype.ctor.BYTES_PER_ELEMENT,
            );
          let reading: Promise<void> = read(0, ready);
          for (let y0 = 0; y0 < facts.height; y0 += PREVIEW_CHUNK) {
            opts.signal?.throwIfAborted();
            await reading;
            const current = ready;
            ready = top.band;
            top.band = current;
            const y1 = Math.min(facts.height, y0 + PREVIEW_CHUNK);
            reading = y1 < facts.height ? read(y1, ready) : Promise.resolve();
            top.rows = y1 - y0;
            await flush(0);
            done += y1 - y0;
            opts.onProgress?.(done, total);
          }
          // The last, partial bands of every level.
          for (let i = 1; i < levels.length; i++) await flush(i);
        }
      }
    }
    const smallest = levelsMeta.at(-1) as (typeof levelsMeta)[number];
    const name = series.name ?? path.basename(source);
    await store.set('.zgroup', json({ zarr_format: 2 }));
    await store.set(
      '.zattrs',
      json({
        multiscales: [
          {
            version: '0.4',
            name,
            axes,
            datasets: levelsMeta.map((l, i) => ({
              path: l.path,
              coordinateTransformations: [{ type: 'scale', scale: [1, 1, 1, 2 ** i, 2 ** i] }],
            })),
            type: 'mean',
            metadata: { method: 'mean of 2x2 blocks', source: path.basename(source) },
          },
        ],
        omero: {
          name,
          version: '0.4',
          channels: channels.map((label, c) => {
            const r = ranges[c] as { min: number; max: number };
            const [lo, hi] = Number.isFinite(r.min) ? [r.min, r.max] : [0, 0];
            return {
              label,
              active: true,
              color: 'FFFFFF',
              window: { min: lo, max: hi, start: lo, end: hi },
            };
          }),
          rdefs: { model: sizeC === 1 ? 'greyscale' : 'color' },
        },
      }),
    );
    await replaceDir(tmp, outDir);
    return {
      ngff: '0.4',
      axes: axes.map((a) => a.name),
      levels: levelsMeta,
      channels,
      pixelType: facts.pixelType,
      smallestLevelBytes: smallest.shape.reduce((a, b) => a * b, 1) * dtype.ctor.BYTES_PER_ELEMENT,
    };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    (tiff as unknown as { close?: () => void }).close?.();
  }
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2));

/** Puts `tmp` where `dir` is: the old folder is moved aside first and removed after the swap. */
async function replaceDir(tmp: string, dir: string): Promise<void> {
  const old = `${dir}.old-${process.pid}-${Date.now()}`;
  const hadOld = await rename(dir, old).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
  await rename(tmp, dir);
  if (hadOld) await rm(old, { recursive: true, force: true });
}
