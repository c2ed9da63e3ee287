import { importExternal } from '../../shared/runtime/import-external.ts';

/** One resolution level of an image. */
export interface TiffLevel {
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
  /** SubIFD pyramid levels declared by the main image (OME-TIFF 6 pyramids), when present. */
  subIfds: number;
}

/** Compression schemes by TIFF tag value; the ones geotiff can decode are marked. */
const COMPRESSION: Record<number, { name: string; decodable: boolean }> = {
  1: { name: 'none', decodable: true },
  5: { name: 'LZW', decodable: true },
  6: { name: 'old-style JPEG', decodable: false },
  7: { name: 'JPEG', decodable: true },
  8: { name: 'Deflate', decodable: true },
  32773: { name: 'PackBits', decodable: true },
  32946: { name: 'Deflate', decodable: true },
  34887: { name: 'LERC', decodable: true },
  50000: { name: 'Zstandard', decodable: true },
  50001: { name: 'WebP', decodable: true },
  33003: { name: 'JPEG 2000 (Aperio)', decodable: false },
  33005: { name: 'JPEG 2000 (Aperio)', decodable: false },
};

/** A TIFF that cannot be read; the message says why. */
export class TiffError extends Error {
  override name = 'TiffError';
}

type Ifd = { hasTag(t: string): boolean; loadValue(t: string): Promise<unknown> };
const value = async (fd: Ifd, tag: string) => (fd.hasTag(tag) ? fd.loadValue(tag) : undefined);
const first = (v: unknown) =>
  Array.isArray(v) || ArrayBuffer.isView(v) ? Number((v as ArrayLike<number>)[0]) : Number(v);

function omeSize(xml: string, attr: string): number | undefined {
  const pixels = /<(?:\w+:)?Pixels\b[^>]*>/.exec(xml)?.[0];
  const m = pixels ? new RegExp(`\\b${attr}="(\\d+)"`).exec(pixels) : null;
  return m ? Number(m[1]) : undefined;
}

/**
 * Reads image facts from the TIFF headers: dimensions, samples, bit depth, pages, tiling, compression,
 * OME-XML sizes, and pyramid levels (reduced-resolution IFDs flagged by NewSubfileType, or SubIFDs).
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
    const pages = await tiff.getImageCount();
    const images = await Promise.all(Array.from({ length: pages }, (_, i) => tiff.getImage(i)));
    const main = images[0];
    if (!main) throw new TiffError('TIFF has no images');
    const fd = main.fileDirectory as unknown as Ifd;
    const compressionCode = first(await value(fd, 'Compression')) || 1;
    const scheme = COMPRESSION[compressionCode];
    if (!scheme) throw new TiffError(`unsupported TIFF compression ${compressionCode}`);
    const description = await value(fd, 'ImageDescription');
    const xml =
      typeof description === 'string' && /<OME[\s>]/.test(description) ? description : undefined;
    const levels: TiffLevel[] = [
      { width: main.getWidth(), height: main.getHeight(), tiled: main.isTiled },
    ];
    for (const im of images.slice(1)) {
      const sub = first(await value(im.fileDirectory as unknown as Ifd, 'NewSubfileType'));
      // Bit 0 of NewSubfileType marks a reduced-resolution version of the main image.
      if (sub & 1 && im.getWidth() < main.getWidth())
        levels.push({ width: im.getWidth(), height: im.getHeight(), tiled: im.isTiled });
    }
    const subIfds = await value(fd, 'SubIFDs');
    const subCount = subIfds
      ? Array.isArray(subIfds) || ArrayBuffer.isView(subIfds)
        ? (subIfds as ArrayLike<number>).length
        : 1
      : 0;
    // Pyramids without the flag (plain multi-page files whose pages shrink) count too when every page halves.
    if (levels.length === 1 && pages > 1) {
      const dims = images.map((im) => im.getWidth());
      const shrinking = dims.every((w, i) => i === 0 || w < (dims[i - 1] as number));
      if (shrinking)
        for (const im of images.slice(1))
          levels.push({ width: im.getWidth(), height: im.getHeight(), tiled: im.isTiled });
    }
    return {
      width: main.getWidth(),
      height: main.getHeight(),
      samples: main.getSamplesPerPixel(),
      bitDepth: first(await value(fd, 'BitsPerSample')) || 1,
      pages,
      tiled: main.isTiled,
      compression: scheme.decodable
        ? scheme.name
        : `${scheme.name} (headers only; pixels not decodable here)`,
      omeXml: xml !== undefined,
      sizeC: xml ? omeSize(xml, 'SizeC') : undefined,
      sizeZ: xml ? omeSize(xml, 'SizeZ') : undefined,
      sizeT: xml ? omeSize(xml, 'SizeT') : undefined,
      levels,
      subIfds: subCount,
    };
  } catch (err) {
    if (err instanceof TiffError) throw err;
    throw new TiffError(`not a readable TIFF: ${(err as Error).message}`);
  } finally {
    await (tiff as unknown as { close?: () => Promise<void> }).close?.();
  }
}
