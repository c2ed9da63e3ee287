import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ensureDebianPackage, PYTHON, pythonHas } from './debian.ts';

/**
 * Microscopy images written by other software for the image and preview tests: Debian's
 * `python3-tifffile` (OME-TIFF with SubIFD pyramids, ImageJ hyperstacks, BigTIFF), `libvips-tools`
 * (`vips tiffsave` pyramids and compressions) and `python3-zarr` (OME-Zarr in the NGFF 0.4 layout),
 * installed on demand when running as root.
 */
export type ImageKind =
  /** tifffile OME-TIFF, 2048x1536 uint16, channels DAPI and CD3, 2 SubIFD levels, 256x256 tiles. */
  | 'ome-subifd-pyramid'
  /** tifffile OME-TIFF with two images: 1024x768x3 uint8 with one SubIFD level, then 300x200 float32. */
  | 'ome-multi-series'
  /** Bio-Formats-style OME-TIFF: 40 channels of 64x48 uint16, one IFD per channel, TiffData per plane. */
  | 'ome-40-channels'
  /** tifffile ImageJ hyperstack: T=4, Z=3, C=2, 80x64 uint16. */
  | 'imagej-hyperstack'
  /** tifffile BigTIFF: 400x300 int16, 128x128 tiles, Deflate. */
  | 'bigtiff-tiles'
  /** tifffile BigTIFF: 400x300 uint8 in strips of 16 rows, uncompressed. */
  | 'bigtiff-strips'
  /** `vips tiffsave --tile --pyramid --compression lzw` of 3000x2000 uint16: NewSubfileType-1 chain. */
  | 'vips-pyramid'
  /** `vips tiffsave --tile --pyramid --subifd --compression deflate` of the same. */
  | 'vips-subifd'
  /** `vips tiffsave --tile --bigtiff --compression zstd` of the same. */
  | 'vips-zstd-bigtiff'
  /** `vips tiffsave --tile --compression jpeg` (8-bit). */
  | 'vips-jpeg'
  /** tifffile, 16500x300 uint16 (over 16k wide), 256x256 tiles, pixel = (x + 3 * y) mod 65536. */
  | 'wide-16k'
  /** tifffile OME-TIFF, 1100x900, channels A and B (uint16, pixel = x + y + 1000 * c), 256 tiles. */
  | 'ome-two-channels';

const SCRIPT = String.raw`
import sys, numpy as np, tifffile
kind, out = sys.argv[1], sys.argv[2]
if kind == 'ome-subifd-pyramid':
    data = (np.arange(2 * 1536 * 2048, dtype='uint32') % 65521).astype('uint16').reshape(2, 1536, 2048)
    with tifffile.TiffWriter(out, ome=True) as w:
        w.write(data, subifds=2, tile=(256, 256),
                metadata={'axes': 'CYX', 'Channel': {'Name': ['DAPI', 'CD3']}})
        for f in (2, 4):
            w.write(data[:, ::f, ::f], subfiletype=1, tile=(256, 256))
elif kind == 'ome-multi-series':
    with tifffile.TiffWriter(out, ome=True) as w:
        a = np.zeros((3, 768, 1024), 'uint8')
        w.write(a, subifds=1, tile=(256, 256), metadata={'axes': 'CYX', 'Name': 'overview'})
        w.write(a[:, ::2, ::2], subfiletype=1, tile=(256, 256))
        w.write(np.zeros((200, 300), 'float32'), metadata={'axes': 'YX', 'Name': 'detail'})
elif kind == 'ome-40-channels':
    import uuid
    u = 'urn:uuid:' + str(uuid.uuid4())
    chans = ''.join('<Channel ID="Channel:0:%d" Name="cycle%d_marker%d" SamplesPerPixel="1"><LightPath/></Channel>' % (c, c // 4, c) for c in range(40))
    tds = ''.join('<TiffData FirstC="%d" FirstT="0" FirstZ="0" IFD="%d" PlaneCount="1"><UUID FileName="x.ome.tif">%s</UUID></TiffData>' % (c, c, u) for c in range(40))
    xml = ('<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" '
           'Creator="OME Bio-Formats 6.11.1" UUID="%s"><Image ID="Image:0" Name="cycif"><Pixels BigEndian="false" '
           'DimensionOrder="XYCZT" ID="Pixels:0" SizeC="40" SizeT="1" SizeX="64" SizeY="48" SizeZ="1" Type="uint16">'
           '%s%s</Pixels></Image></OME>') % (u, chans, tds)
    with tifffile.TiffWriter(out) as w:
        for c in range(40):
            w.write(np.full((48, 64), c, 'uint16'), contiguous=False, metadata=None,
                    description=xml if c == 0 else None)
elif kind == 'imagej-hyperstack':
    tifffile.imwrite(out, np.zeros((4, 3, 2, 64, 80), 'uint16'), imagej=True, metadata={'axes': 'TZCYX'})
elif kind == 'bigtiff-tiles':
    tifffile.imwrite(out, np.zeros((300, 400), 'int16'), bigtiff=True, tile=(128, 128), compression='zlib',
                     metadata=None)
elif kind == 'bigtiff-strips':
    tifffile.imwrite(out, np.zeros((300, 400), 'uint8'), bigtiff=True, rowsperstrip=16, metadata=None)
elif kind == 'wide-16k':
    y, x = np.mgrid[0:300, 0:16500]
    tifffile.imwrite(out, ((x + 3 * y) % 65536).astype('uint16'), tile=(256, 256), metadata=None)
elif kind == 'ome-two-channels':
    c, y, x = np.mgrid[0:2, 0:900, 0:1100]
    with tifffile.TiffWriter(out, ome=True) as w:
        w.write((x + y + 1000 * c).astype('uint16'), tile=(256, 256),
                metadata={'axes': 'CYX', 'Channel': {'Name': ['A', 'B']}})
else:
    sys.exit('unknown kind ' + kind)
`;

const VIPS_ARGS: Partial<Record<ImageKind, string[]>> = {
  'vips-pyramid': ['--tile', '--pyramid', '--compression', 'lzw'],
  'vips-subifd': ['--tile', '--pyramid', '--subifd', '--compression', 'deflate'],
  'vips-zstd-bigtiff': ['--tile', '--bigtiff', '--compression', 'zstd'],
  'vips-jpeg': ['--tile', '--compression', 'jpeg'],
};

/** Makes sure `vips` (Debian's libvips-tools) is installed. */
export function ensureVips(): void {
  ensureDebianPackage('libvips-tools', () => existsSync('/usr/bin/vips'), 'to write libvips TIFFs');
}

/** Makes sure Debian's python3-zarr (with numpy) is installed. */
export function ensureZarr(): void {
  ensureDebianPackage(
    'python3-zarr',
    () => pythonHas('zarr', 'numpy'),
    'to read and write OME-Zarr',
  );
}

/** Writes an image of the given kind to `file` with the software its kind names. */
export function writeImage(kind: ImageKind, file: string): void {
  const vips = VIPS_ARGS[kind];
  if (vips) {
    ensureVips();
    const src = `${file}.src.v`;
    // A 3000x2000 16-bit gradient (8-bit for JPEG, which libtiff's JPEG codec needs).
    execFileSync('/usr/bin/vips', ['xyz', `${file}.xyz.v`, '3000', '2000'], { timeout: 60_000 });
    execFileSync('/usr/bin/vips', ['extract_band', `${file}.xyz.v`, src, '0'], { timeout: 60_000 });
    const cast = kind === 'vips-jpeg' ? 'uchar' : 'ushort';
    execFileSync('/usr/bin/vips', ['cast', src, `${src}.c.v`, cast], { timeout: 60_000 });
    execFileSync('/usr/bin/vips', ['tiffsave', `${src}.c.v`, file, ...vips], { timeout: 60_000 });
    execFileSync('rm', ['-f', `${file}.xyz.v`, src, `${src}.c.v`]);
    return;
  }
  ensureDebianPackage(
    'python3-tifffile',
    () => pythonHas('tifffile', 'numpy'),
    'to write TIFF test files',
  );
  execFileSync(PYTHON, ['-c', SCRIPT, kind, file], { encoding: 'utf8', timeout: 120_000 });
}

/** Runs a Python script with Debian's python3-zarr; `args` become sys.argv[1:]. Returns stdout. */
export function runZarrPython(script: string, args: string[] = []): string {
  ensureZarr();
  return execFileSync(PYTHON, ['-c', script, ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}
