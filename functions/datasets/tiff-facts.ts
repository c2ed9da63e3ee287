import { importExternal } from '../../shared/runtime/import-external.ts';

/** One resolution level of an image. */
export interface TiffLevel {
  width: number;
  height: number;
  tiled: boolean;
}

/**
 * An image stored beside the main one that is not one of its resolution levels (Aperio SVS and other
 * slide scanners): `associated` when nothing says what it is.
 */
export interface TiffAssociatedImage {
  kind: 'thumbnail' | 'label' | 'macro' | 'associated';
  /** Index of its IFD in the main chain. */
  page: number;
  width: number;
  height: number;
  tiled: boolean;
}

/** One image of a multi-series file (an OME-XML `Image`), with its own size, planes and levels. */
export interface TiffSeries {
  name: string | null;
  width: number;
  height: number;
  sizeC: number;
  sizeZ: number;
  sizeT: number;
  pixelType: string;
  channels: string[];
  /** Index of its first IFD in the main chain. */
  firstPage: number;
  /** Full resolution first, then its SubIFD levels, largest to smallest. */
  levels: TiffLevel[];
}

/** What a viewer needs to know about a TIFF, read from its headers without decoding pixels. */
export interface TiffFacts {
  format: 'tiff';
  width: number;
  height: number;
  samples: number;
  bitDepth: number;
  /** `uint8`, `uint16`, `int16`, `float32`, ... (OME-XML's type, else SampleFormat and BitsPerSample). */
  pixelType: string;
  pages: number;
  tiled: boolean;
  bigTiff: boolean;
  compression: string;
  omeXml: boolean;
  sizeC: number;
  sizeZ: number;
  sizeT: number;
  /**
   * The order of the planes in the IFDs, fastest first after X and Y (OME's DimensionOrder; ImageJ
   * and plain multi-page files store channels fastest: `XYCZT`).
   */
  dimensionOrder: string;
  /** Where C/Z/T come from: OME-XML, the ImageJ description, or the IFDs themselves (a guess). */
  dimensionsFrom: 'ome-xml' | 'imagej' | 'ifds';
  /** Channel names (OME-XML), in channel order; empty when the file names none. */
  channels: string[];
  /**
   * Full resolution first, then reduced-resolution levels, largest to smallest: the first image's
   * SubIFDs (OME-TIFF 6 pyramids) or, without them, reduced-resolution IFDs of the main chain.
   */
  levels: TiffLevel[];
  /** How the levels are stored: `subifds`, `ifd-chain` (NewSubfileType 1 pages) or none. */
  pyramid: 'subifds' | 'ifd-chain' | null;
  /** Every image of the file (OME-XML `Image`s); one entry for single-image files. */
  series: TiffSeries[];
  /** Label, macro and thumbnail images (never listed as levels). */
  associated: TiffAssociatedImage[];
  /** SubIFD pyramid levels declared by the main image (OME-TIFF 6 pyramids), when present. */
  subIfds: number;
}

/**
 * Compression schemes by TIFF tag value (the TIFF 6 registry as libtiff lists it); the ones geotiff
 * can decode are marked. Header facts never need the codec, so every registered scheme is accepted;
 * only an unregistered value is refused (it is more likely a damaged file than an image).
 */
const COMPRESSION: Record<number, { name: string; decodable: boolean }> = {
  1: { name: 'none', decodable: true },
  2: { name: 'CCITT modified Huffman RLE', decodable: false },
  3: { name: 'CCITT Group 3', decodable: false },
  4: { name: 'CCITT Group 4', decodable: false },
  5: { name: 'LZW', decodable: true },
  6: { name: 'old-style JPEG', decodable: false },
  7: { name: 'JPEG', decodable: true },
  8: { name: 'Deflate', decodable: true },
  9: { name: 'JBIG (T.85)', decodable: false },
  10: { name: 'JBIG (T.43)', decodable: false },
  32766: { name: 'NeXT 2-bit RLE', decodable: false },
  32771: { name: 'CCITT RLE (word-aligned)', decodable: false },
  32773: { name: 'PackBits', decodable: true },
  32809: { name: 'ThunderScan RLE', decodable: false },
  32895: { name: 'IT8 CT padding', decodable: false },
  32896: { name: 'IT8 line-work RLE', decodable: false },
  32897: { name: 'IT8 monochrome', decodable: false },
  32898: { name: 'IT8 binary line art', decodable: false },
  32908: { name: 'Pixar film', decodable: false },
  32909: { name: 'Pixar log', decodable: false },
  32946: { name: 'Deflate', decodable: true },
  32947: { name: 'Kodak DCS', decodable: false },
  33003: { name: 'JPEG 2000 (Aperio)', decodable: false },
  33005: { name: 'JPEG 2000 (Aperio)', decodable: false },
  34661: { name: 'JBIG', decodable: false },
  34676: { name: 'SGI log luminance', decodable: false },
  34677: { name: 'SGI log24', decodable: false },
  34712: { name: 'JPEG 2000', decodable: false },
  34887: { name: 'LERC', decodable: true },
  34892: { name: 'lossy JPEG (DNG)', decodable: false },
  34925: { name: 'LZMA', decodable: false },
  50000: { name: 'Zstandard', decodable: true },
  50001: { name: 'WebP', decodable: true },
  50002: { name: 'JPEG XL', decodable: false },
};

/** A TIFF that cannot be read; the message says why. */
export class TiffError extends Error {
  override name = 'TiffError';
}

type Ifd = { hasTag(t: string): boolean; loadValue(t: string): Promise<unknown> };
type Image = { fileDirectory: unknown; getWidth(): number; getHeight(): number };
/** The few members of geotiff's GeoTIFF object the raw IFD reader needs (present since geotiff 1). */
type RawTiff = {
  bigTiff: boolean;
  littleEndian: boolean;
  firstIFDOffset: number;
  source: unknown;
  /** geotiff's IFD parser; SubIFDs are parsed with it at their offsets (geotiff walks only the main chain). */
  parser: { parseFileDirectoryAt(offset: number): Promise<unknown> };
  getSlice(
    offset: number,
    size?: number,
  ): Promise<{
    readUint8(o: number): number;
    readUint16(o: number): number;
    readUint32(o: number): number;
    readOffset(o: number): number;
  }>;
};
const value = async (fd: Ifd, tag: string) => (fd.hasTag(tag) ? fd.loadValue(tag) : undefined);
const first = (v: unknown) =>
  Array.isArray(v) || ArrayBuffer.isView(v) ? Number((v as ArrayLike<number>)[0]) : Number(v);
/** libtiff's rule: an image is tiled when it has a tile width, whatever strip tags it also carries. */
const isTiled = (im: Image) => (im.fileDirectory as Ifd).hasTag('TileWidth');

const IMAGE_DESCRIPTION = 270;
const ASCII = 2;
/** An ImageDescription longer than this is not read (OME-XML of 100k-plane files stays far below). */
const MAX_DESCRIPTION_BYTES = 16 * 1024 * 1024;

/**
 * Every ImageDescription tag of the first IFD, in file order. geotiff keeps only the last of repeated
 * tags, and Micro-Manager writes two (the OME-XML, then an ImageJ one), so the IFD's entries are read
 * here through geotiff's own ranged source.
 */
async function descriptionsOfFirstIfd(tiff: RawTiff): Promise<string[]> {
  const big = tiff.bigTiff;
  const at = tiff.firstIFDOffset;
  const head = await tiff.getSlice(at, big ? 8 : 2);
  const count = big ? head.readOffset(at) : head.readUint16(at);
  const entry = big ? 20 : 12;
  const table = await tiff.getSlice(at + (big ? 8 : 2), count * entry);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const e = at + (big ? 8 : 2) + i * entry;
    if (table.readUint16(e) !== IMAGE_DESCRIPTION || table.readUint16(e + 2) !== ASCII) continue;
    const n = big ? table.readOffset(e + 4) : table.readUint32(e + 4);
    if (n === 0 || n > MAX_DESCRIPTION_BYTES) continue;
    const inline = n <= (big ? 8 : 4);
    const where = inline
      ? e + (big ? 12 : 8)
      : big
        ? table.readOffset(e + 12)
        : table.readUint32(e + 8);
    const slice = inline ? table : await tiff.getSlice(where, n);
    const bytes = new Uint8Array(n);
    for (let k = 0; k < n; k++) bytes[k] = slice.readUint8(where + k);
    out.push(new TextDecoder('utf-8').decode(bytes).replace(/\0+$/, ''));
  }
  return out;
}

const attr = (tag: string, name: string) => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
const intAttr = (tag: string, name: string) => {
  const v = attr(tag, name);
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
};
const unescapeXml = (v: string) =>
  v
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

/** OME's pixel type names, spelt as the rest of the facts spell them. */
const OME_TYPES: Record<string, string> = { float: 'float32', double: 'float64', bit: 'bit' };

/** One OME-XML `Image`: its Pixels sizes, type, channel names and the IFD its planes start at. */
interface OmeImage
  extends Pick<TiffSeries, 'name' | 'width' | 'height' | 'sizeC' | 'sizeZ' | 'sizeT' | 'channels'> {
  pixelType: string | undefined;
  dimensionOrder: string;
  /** IFDs its planes take in the main chain (channels of several samples share one IFD). */
  planes: number;
  firstIfd: number | undefined;
}

/** Every `Image` of an OME-XML document, in document order (regular expressions: no XML library). */
export function omeImages(xml: string): OmeImage[] {
  const out: OmeImage[] = [];
  for (const m of xml.matchAll(/<(?:\w+:)?Image\b([^>]*)>([\s\S]*?)<\/(?:\w+:)?Image>/g)) {
    const body = m[2] as string;
    const pixels = /<(?:\w+:)?Pixels\b[^>]*>/.exec(body)?.[0];
    if (!pixels) continue;
    const channelTags = [...body.matchAll(/<(?:\w+:)?Channel\b[^>]*>/g)].map((c) => c[0]);
    const sizeC = intAttr(pixels, 'SizeC') ?? 1;
    const sizeZ = intAttr(pixels, 'SizeZ') ?? 1;
    const sizeT = intAttr(pixels, 'SizeT') ?? 1;
    const spp = channelTags[0] ? (intAttr(channelTags[0], 'SamplesPerPixel') ?? 1) : 1;
    const ifds = [...body.matchAll(/<(?:\w+:)?TiffData\b[^>]*>/g)]
      .map((t) => intAttr(t[0], 'IFD') ?? 0)
      .filter((n) => Number.isFinite(n));
    const type = attr(pixels, 'Type');
    out.push({
      name: attr(m[1] as string, 'Name') ?? null,
      width: intAttr(pixels, 'SizeX') ?? 0,
      height: intAttr(pixels, 'SizeY') ?? 0,
      sizeC,
      sizeZ,
      sizeT,
      pixelType: type ? (OME_TYPES[type] ?? type) : undefined,
      dimensionOrder: /^XY[CZT]{3}$/.test(attr(pixels, 'DimensionOrder') ?? '')
        ? (attr(pixels, 'DimensionOrder') as string)
        : 'XYCZT',
      channels: channelTags.map((c, i) => unescapeXml(attr(c, 'Name') ?? `C${i}`)),
      planes: Math.max(1, Math.ceil(sizeC / Math.max(1, spp))) * sizeZ * sizeT,
      firstIfd: ifds.length ? Math.min(...ifds) : undefined,
    });
  }
  return out;
}

/** C/Z/T of an ImageJ hyperstack, from its ImageDescription (`channels=`, `slices=`, `frames=`). */
export function imageJSizes(
  description: string,
): { sizeC: number; sizeZ: number; sizeT: number } | undefined {
  if (!/^ImageJ=/m.test(description)) return undefined;
  const n = (key: string) => {
    const m = new RegExp(`^${key}=(\\d+)\\s*$`, 'm').exec(description);
    return m ? Number(m[1]) : undefined;
  };
  const images = n('images') ?? 1;
  const sizeC = n('channels') ?? 1;
  const sizeZ = n('slices') ?? 1;
  // ImageJ leaves frames out when the stack is only channels and slices.
  const sizeT = n('frames') ?? Math.max(1, Math.round(images / (sizeC * sizeZ)));
  return { sizeC, sizeZ, sizeT };
}

/** A pixel type name from SampleFormat (1 unsigned, 2 signed, 3 float) and BitsPerSample. */
function ifdPixelType(sampleFormat: number, bits: number): string {
  if (bits === 1) return 'bit';
  if (sampleFormat === 3) return `float${bits}`;
  if (sampleFormat === 2) return `int${bits}`;
  return `uint${bits}`;
}

/** How far a reduced image's aspect ratio may stray from the main image's and still be a level. */
const ASPECT_TOLERANCE = 0.03;

/** True when `w`x`h` has the main image's aspect ratio, allowing a pixel of rounding per axis. */
function sameAspect(w: number, h: number, mainW: number, mainH: number): boolean {
  const expectedH = (w * mainH) / mainW;
  return Math.abs(h - expectedH) <= ASPECT_TOLERANCE * expectedH + 1;
}

interface Page {
  index: number;
  width: number;
  height: number;
  tiled: boolean;
  subfileType: number;
  description: string;
}

/**
 * Splits the pages after the first into resolution levels and associated images. Levels are
 * reduced-resolution versions of the main image: the same aspect ratio within a few percent and
 * each one smaller than the level before. Label and macro images are named by their description
 * (Aperio writes "label ..." and "macro ...") or by NewSubfileType (bit 3 marks a macro, as in
 * Aperio's 9); a reduced image of another aspect is associated, never a level. Thumbnails are the
 * reduced images that are not part of the shrinking sequence: Aperio's second IFD when it is not
 * tiled, or an image followed by a larger reduced one.
 */
function classifyPages(main: Page, rest: Page[]) {
  const aperio = /^Aperio/.test(main.description);
  const associated: TiffAssociatedImage[] = [];
  const candidates: Page[] = [];
  const add = (kind: TiffAssociatedImage['kind'], p: Page) =>
    associated.push({ kind, page: p.index, width: p.width, height: p.height, tiled: p.tiled });
  for (const p of rest) {
    const word = /^\s*(label|macro|thumbnail)\b/im.exec(
      p.description.replace(/^Aperio[^\n]*\n/, ''),
    )?.[1];
    if (word === 'macro' || p.subfileType & 8) add('macro', p);
    else if (word === 'label') add('label', p);
    else if (word === 'thumbnail' || (aperio && p.index === 1 && !p.tiled)) add('thumbnail', p);
    else if (p.width >= main.width && p.height >= main.height)
      continue; // another plane
    else if (!sameAspect(p.width, p.height, main.width, main.height))
      add(p.subfileType & 1 ? 'label' : 'associated', p);
    // Aperio levels are tiled; a stripped image among them is a thumbnail.
    else if (aperio && main.tiled && !p.tiled) add('thumbnail', p);
    else candidates.push(p);
  }
  const levels: TiffLevel[] = [{ width: main.width, height: main.height, tiled: main.tiled }];
  const planes =
    1 +
    rest.filter((p) => !candidates.includes(p) && !associated.some((a) => a.page === p.index))
      .length;
  candidates.forEach((p, i) => {
    const previous = levels.at(-1) as TiffLevel;
    if (candidates.slice(i + 1).some((q) => q.width > p.width)) add('thumbnail', p);
    else if (p.width < previous.width)
      levels.push({ width: p.width, height: p.height, tiled: p.tiled });
    // Same size as a level already listed: a plane of that level (per-channel pyramids).
  });
  associated.sort((a, b) => a.page - b.page);
  return { levels, associated, planes };
}

/** SubIFDs read per image at most (a pyramid halves per level; 32 levels is 2^32 pixels a side). */
const MAX_SUBIFDS = 32;

/** The SubIFD offsets (tag 330) of an IFD: OME-TIFF 6 pyramids keep their reduced levels there. */
async function subIfdOffsets(fd: Ifd): Promise<number[]> {
  const v = await value(fd, 'SubIFDs');
  if (v === undefined) return [];
  const list = Array.isArray(v) || ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<number>) : [v];
  return list.map(Number).filter((n) => Number.isFinite(n) && n > 0);
}

/** Reduced levels stored as SubIFDs of an image, parsed with geotiff's own IFD parser. */
async function subIfdLevels(
  tiff: RawTiff,
  GeoTIFFImage: new (fd: unknown, le: boolean, cache: boolean, source: unknown) => Image,
  offsets: number[],
): Promise<{ levels: TiffLevel[]; images: Image[] }> {
  const images: Image[] = [];
  for (const offset of offsets.slice(0, MAX_SUBIFDS)) {
    const fd = await tiff.parser.parseFileDirectoryAt(offset);
    images.push(new GeoTIFFImage(fd, tiff.littleEndian, false, tiff.source));
  }
  return {
    images,
    levels: images.map((im) => ({
      width: im.getWidth(),
      height: im.getHeight(),
      tiled: isTiled(im),
    })),
  };
}

/**
 * The end of the last tile or strip of an image, from its offset and byte-count tags: a file shorter
 * than that was cut off (a copy that stopped early), which headers alone would not show. A byte count
 * larger than the whole file cannot be real (geotiff 3 reads some big-endian count arrays byte-swapped),
 * so such a count is left out and only its offset counts.
 */
async function dataEnd(im: Image, size: number): Promise<number> {
  const fd = im.fileDirectory as Ifd;
  const tiled = fd.hasTag('TileOffsets');
  const offsets = (await value(fd, tiled ? 'TileOffsets' : 'StripOffsets')) as ArrayLike<number>;
  const counts = (await value(fd, tiled ? 'TileByteCounts' : 'StripByteCounts')) as
    | ArrayLike<number>
    | undefined;
  if (!offsets || !counts) return 0;
  let end = 0;
  for (let i = 0; i < offsets.length; i++) {
    const n = Number(counts[i] ?? 0);
    end = Math.max(end, Number(offsets[i]) + (n <= size ? n : 1));
  }
  return end;
}

export interface ReadTiffOptions {
  /** The file's size in bytes, when known: a file cut short of its image data is refused. */
  size?: number;
}

/**
 * Reads image facts from the TIFF headers: dimensions, samples, bit depth, pixel type, pages, tiling,
 * compression, C/Z/T (OME-XML, else an ImageJ description, else the IFDs), channel names, series,
 * pyramid levels (the first image's SubIFDs, or reduced-resolution IFDs of the main image's aspect)
 * apart from label, macro and thumbnail images, and the SubIFD count. No pixel is decoded.
 */
export async function readTiffFacts(file: string, opts: ReadTiffOptions = {}): Promise<TiffFacts> {
  // Loaded on first use: only registrations read TIFFs, and the library is not needed at start-up.
  const geotiff = await importExternal<typeof import('geotiff')>('geotiff');
  let tiff: Awaited<ReturnType<typeof geotiff.fromFile>>;
  try {
    // http(s) URLs (presigned object-store URLs) are read with Range requests: headers only.
    tiff = /^https?:\/\//.test(file)
      ? await geotiff.fromUrl(file, { allowFullFile: false })
      : await geotiff.fromFile(file);
  } catch (err) {
    throw new TiffError(`not a readable TIFF: ${(err as Error).message}`);
  }
  try {
    const raw = tiff as unknown as RawTiff;
    const count = await tiff.getImageCount();
    const images = await Promise.all(Array.from({ length: count }, (_, i) => tiff.getImage(i)));
    const main = images[0];
    if (!main) throw new TiffError('TIFF has no images');
    const fd = main.fileDirectory as unknown as Ifd;
    const compressionCode = first(await value(fd, 'Compression')) || 1;
    const scheme = COMPRESSION[compressionCode];
    if (!scheme) throw new TiffError(`unsupported TIFF compression ${compressionCode}`);
    const descriptions = await descriptionsOfFirstIfd(raw);
    // Every description counts: Micro-Manager puts the OME-XML first and an ImageJ one after it.
    const xml = descriptions.find((d) => /<OME[\s>]/.test(d));
    const pages: Page[] = await Promise.all(
      images.map(async (im, index) => {
        const d = im.fileDirectory as unknown as Ifd;
        const description =
          index === 0 ? (descriptions[0] ?? '') : await value(d, 'ImageDescription');
        return {
          index,
          width: im.getWidth(),
          height: im.getHeight(),
          tiled: isTiled(im as unknown as Image),
          subfileType: first(await value(d, 'NewSubfileType')) || 0,
          description: typeof description === 'string' ? description : '',
        };
      }),
    );
    const bitDepth = first(await value(fd, 'BitsPerSample')) || 1;
    const sampleFormat = first(await value(fd, 'SampleFormat')) || 1;
    const samples = main.getSamplesPerPixel();
    const ome = xml ? omeImages(xml) : [];

    // OME-XML names which IFDs are planes of which image; those are never levels or associated.
    const claimed = new Set<number>();
    let next = 0;
    const seriesStarts = ome.map((im) => {
      const start = im.firstIfd ?? next;
      for (let i = start; i < Math.min(count, start + im.planes); i++) claimed.add(i);
      next = start + im.planes;
      return start;
    });
    const GeoTIFFImage = geotiff.GeoTIFFImage as unknown as new (
      fd: unknown,
      le: boolean,
      cache: boolean,
      source: unknown,
    ) => Image;
    const mainOffsets = await subIfdOffsets(fd);
    const sub = await subIfdLevels(raw, GeoTIFFImage, mainOffsets);
    const unclaimed = pages.slice(1).filter((p) => !claimed.has(p.index));
    const chain = classifyPages(pages[0] as Page, unclaimed);
    const base: TiffLevel = {
      width: main.getWidth(),
      height: main.getHeight(),
      tiled: isTiled(main as unknown as Image),
    };
    // SubIFD levels are what OME-TIFF readers use; each must be smaller than the one before.
    const subLevels = sub.levels.filter(
      (l, i, all) => l.width < (i === 0 ? base.width : (all[i - 1] as TiffLevel).width),
    );
    const levels = subLevels.length ? [base, ...subLevels] : chain.levels;
    const pyramid = subLevels.length ? 'subifds' : chain.levels.length > 1 ? 'ifd-chain' : null;

    const ij = xml ? undefined : descriptions.map(imageJSizes).find((v) => v !== undefined);
    const planes = chain.planes;
    const first0 = ome[0];
    const dims = first0
      ? { sizeC: first0.sizeC, sizeZ: first0.sizeZ, sizeT: first0.sizeT, from: 'ome-xml' as const }
      : ij
        ? { ...ij, from: 'imagej' as const }
        : samples > 1
          ? { sizeC: samples, sizeZ: planes, sizeT: 1, from: 'ifds' as const }
          : { sizeC: planes, sizeZ: 1, sizeT: 1, from: 'ifds' as const };
    const pixelType = first0?.pixelType ?? ifdPixelType(sampleFormat, bitDepth);

    const series: TiffSeries[] = [];
    if (ome.length) {
      for (const [i, im] of ome.entries()) {
        const start = seriesStarts[i] as number;
        const page = images[start];
        let seriesLevels = levels;
        if (i > 0 && page) {
          const own = await subIfdLevels(
            raw,
            GeoTIFFImage,
            await subIfdOffsets(page.fileDirectory as unknown as Ifd),
          );
          seriesLevels = [
            {
              width: page.getWidth(),
              height: page.getHeight(),
              tiled: isTiled(page as unknown as Image),
            },
            ...own.levels,
          ];
        }
        series.push({
          name: im.name,
          width: im.width,
          height: im.height,
          sizeC: im.sizeC,
          sizeZ: im.sizeZ,
          sizeT: im.sizeT,
          pixelType: im.pixelType ?? pixelType,
          channels: im.channels,
          firstPage: start,
          levels: seriesLevels,
        });
      }
    } else {
      series.push({
        name: null,
        width: base.width,
        height: base.height,
        sizeC: dims.sizeC,
        sizeZ: dims.sizeZ,
        sizeT: dims.sizeT,
        pixelType,
        channels: [],
        firstPage: 0,
        levels,
      });
    }

    if (opts.size !== undefined) {
      // The last page and the smallest SubIFD level are written last by every writer seen; the first
      // page's data too, for writers that put IFDs at the end.
      const checks = [main, images.at(-1), sub.images.at(-1)].filter((x) => x !== undefined);
      for (const im of checks) {
        const end = await dataEnd(im as unknown as Image, opts.size);
        if (end > opts.size)
          throw new TiffError(
            `truncated: its image data runs to byte ${end} but the file has ${opts.size} bytes`,
          );
      }
    }

    return {
      format: 'tiff',
      width: main.getWidth(),
      height: main.getHeight(),
      samples,
      bitDepth,
      pixelType,
      pages: count,
      tiled: isTiled(main as unknown as Image),
      bigTiff: raw.bigTiff,
      compression: scheme.decodable
        ? scheme.name
        : `${scheme.name} (headers only; pixels not decodable here)`,
      omeXml: xml !== undefined,
      sizeC: dims.sizeC,
      sizeZ: dims.sizeZ,
      sizeT: dims.sizeT,
      dimensionOrder: first0?.dimensionOrder ?? 'XYCZT',
      dimensionsFrom: dims.from,
      channels: first0?.channels ?? [],
      levels,
      pyramid,
      series,
      associated: chain.associated,
      subIfds: mainOffsets.length,
    };
  } catch (err) {
    if (err instanceof TiffError) throw err;
    throw new TiffError(`not a readable TIFF: ${(err as Error).message}`);
  } finally {
    await (tiff as unknown as { close?: () => Promise<void> }).close?.();
  }
}
