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

/** What a viewer needs to know about a TIFF, read from its headers without decoding pixels. */
export interface TiffFacts {
  width: number;
  height: number;
  samples: number;
  bitDepth: number;
  pages: number;
  tiled: boolean;
  compression: string;
  omeXml: boolean;
  sizeC?: number;
  sizeZ?: number;
  sizeT?: number;
  /** Full resolution first, then reduced-resolution IFDs, largest to smallest. */
  levels: TiffLevel[];
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
  firstIFDOffset: number;
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

function omeSize(xml: string, attr: string): number | undefined {
  const pixels = /<(?:\w+:)?Pixels\b[^>]*>/.exec(xml)?.[0];
  const m = pixels ? new RegExp(`\\b${attr}="(\\d+)"`).exec(pixels) : null;
  return m ? Number(m[1]) : undefined;
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
  candidates.forEach((p, i) => {
    const previous = levels.at(-1) as TiffLevel;
    if (candidates.slice(i + 1).some((q) => q.width > p.width)) add('thumbnail', p);
    else if (p.width < previous.width)
      levels.push({ width: p.width, height: p.height, tiled: p.tiled });
    // Same size as a level already listed: a plane of that level (per-channel pyramids).
  });
  associated.sort((a, b) => a.page - b.page);
  return { levels, associated };
}

/**
 * Reads image facts from the TIFF headers: dimensions, samples, bit depth, pages, tiling, compression,
 * OME-XML sizes (from whichever ImageDescription holds it), pyramid levels (reduced-resolution IFDs of
 * the main image's aspect) apart from label, macro and thumbnail images, and the SubIFD count.
 */
export async function readTiffFacts(file: string): Promise<TiffFacts> {
  // Loaded on first use: only registrations read TIFFs, and the library is not needed at start-up.
  const { fromFile, fromUrl } = await importExternal<typeof import('geotiff')>('geotiff');
  let tiff: Awaited<ReturnType<typeof fromFile>>;
  try {
    // http(s) URLs (presigned object-store URLs) are read with Range requests: headers only.
    tiff = /^https?:\/\//.test(file)
      ? await fromUrl(file, { allowFullFile: false })
      : await fromFile(file);
  } catch (err) {
    throw new TiffError(`not a readable TIFF: ${(err as Error).message}`);
  }
  try {
    const count = await tiff.getImageCount();
    const images = await Promise.all(Array.from({ length: count }, (_, i) => tiff.getImage(i)));
    const main = images[0];
    if (!main) throw new TiffError('TIFF has no images');
    const fd = main.fileDirectory as unknown as Ifd;
    const compressionCode = first(await value(fd, 'Compression')) || 1;
    const scheme = COMPRESSION[compressionCode];
    if (!scheme) throw new TiffError(`unsupported TIFF compression ${compressionCode}`);
    const descriptions = await descriptionsOfFirstIfd(tiff as unknown as RawTiff);
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
          tiled: isTiled(im),
          subfileType: first(await value(d, 'NewSubfileType')) || 0,
          description: typeof description === 'string' ? description : '',
        };
      }),
    );
    const { levels, associated } = classifyPages(pages[0] as Page, pages.slice(1));
    const subIfds = await value(fd, 'SubIFDs');
    const subCount = subIfds
      ? Array.isArray(subIfds) || ArrayBuffer.isView(subIfds)
        ? (subIfds as ArrayLike<number>).length
        : 1
      : 0;
    return {
      width: main.getWidth(),
      height: main.getHeight(),
      samples: main.getSamplesPerPixel(),
      bitDepth: first(await value(fd, 'BitsPerSample')) || 1,
      pages: count,
      tiled: isTiled(main),
      compression: scheme.decodable
        ? scheme.name
        : `${scheme.name} (headers only; pixels not decodable here)`,
      omeXml: xml !== undefined,
      sizeC: xml ? omeSize(xml, 'SizeC') : undefined,
      sizeZ: xml ? omeSize(xml, 'SizeZ') : undefined,
      sizeT: xml ? omeSize(xml, 'SizeT') : undefined,
      levels,
      associated,
      subIfds: subCount,
    };
  } catch (err) {
    if (err instanceof TiffError) throw err;
    throw new TiffError(`not a readable TIFF: ${(err as Error).message}`);
  } finally {
    await (tiff as unknown as { close?: () => Promise<void> }).close?.();
  }
}
