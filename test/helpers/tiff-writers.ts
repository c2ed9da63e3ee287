import { execFileSync } from 'node:child_process';
import { ensureDebianPackage, PYTHON, pythonHas } from './debian.ts';

/**
 * TIFF files written by other software for the TIFF facts tests: Debian's `python3-tifffile` (and
 * `python3-pil`, whose libtiff writes real CCITT Group 4), installed on demand like h5py. Pixels are
 * zeros: only headers matter, and the files stay a few kB.
 */
export type TiffKind =
  /** Aperio-style slide: base, stripped thumbnail, tiled levels (NewSubfileType 0), label (1), macro (9). */
  | 'svs-pyramid'
  /** The same without reduced levels: base, thumbnail, label, macro. */
  | 'svs-flat'
  /** A bilevel page compressed with CCITT Group 4 by libtiff. */
  | 'ccitt-g4'
  /** Micro-Manager's layout: OME-XML (C1 Z1 T10) and then an ImageJ description in the first IFD. */
  | 'two-descriptions'
  /** Like libtiff's quad-tile.tif: 512x384 RGB, 128x128 tiles, with strip tags defined as well. */
  | 'tiles-and-strips';

const SCRIPT = String.raw`
import sys, struct
import numpy as np
kind, out = sys.argv[1], sys.argv[2]
if kind == 'ccitt-g4':
    from PIL import Image
    Image.new('1', (1728, 1100), 1).save(out, compression='group4')
    sys.exit(0)
import tifffile
if kind.startswith('svs'):
    head = 'Aperio Image Library v10.0.51\r\n'
    base = (1536, 2048)
    with tifffile.TiffWriter(out) as w:
        def page(shape, tiled, desc, sub=0):
            w.write(np.zeros(shape + (3,), 'uint8'), photometric='rgb', compression='zlib',
                    tile=(256, 256) if tiled else None, description=desc, subfiletype=sub,
                    metadata=None)
        page(base, True, head + '2048x1536 [0,0 2048x1536] (256x256) JPEG/RGB Q=70|AppMag = 20|MPP = 0.499')
        page((768, 1024) if kind == 'svs-flat' else (192, 256), False,
             head + '2048x1536 -> 256x192 - |AppMag = 20')
        if kind == 'svs-pyramid':
            page((384, 512), True, head + '2048x1536 -> 512x384 - |AppMag = 20')
            page((96, 128), True, head + '2048x1536 -> 128x96 - |AppMag = 20')
        page((400, 380), False, head + 'label 380x400', 1)
        page((420, 1280), False, head + 'macro 1280x420', 9)
elif kind == 'two-descriptions':
    ome = ('<?xml version="1.0" encoding="UTF-8"?>'
           '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" Creator="Micro-Manager">'
           '<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint16" '
           'SizeX="64" SizeY="48" SizeC="1" SizeZ="1" SizeT="10">'
           '<Channel ID="Channel:0:0" SamplesPerPixel="1"/></Pixels></Image></OME>')
    imagej = 'ImageJ=1.53t\nimages=10\nchannels=1\nslices=1\nframes=10\nhyperstack=true\n'
    with tifffile.TiffWriter(out) as w:
        for t in range(10):
            w.write(np.zeros((48, 64), 'uint16'), contiguous=False, metadata=None,
                    description=ome if t == 0 else None,
                    extratags=[(270, 's', 0, imagej, True)] if t == 0 else None)
elif kind == 'tiles-and-strips':
    # tifffile never writes strip tags on a tiled page: write two placeholder tags that sort where
    # StripOffsets (273) and StripByteCounts (279) belong, then renumber them in place.
    tifffile.imwrite(out, np.zeros((384, 512, 3), 'uint8'), byteorder='>', photometric='rgb',
                     tile=(128, 128), compression='zlib', metadata=None,
                     extratags=[(269, 'I', 1, 8, True), (280, 'I', 1, 0, True)])
    with open(out, 'r+b') as f:
        f.seek(4)
        (ifd,) = struct.unpack('>I', f.read(4))
        f.seek(ifd)
        (n,) = struct.unpack('>H', f.read(2))
        for i in range(n):
            f.seek(ifd + 2 + 12 * i)
            (code,) = struct.unpack('>H', f.read(2))
            if code in (269, 280):
                f.seek(ifd + 2 + 12 * i)
                f.write(struct.pack('>H', 273 if code == 269 else 279))
    with tifffile.TiffFile(out) as t:
        codes = [tag.code for tag in t.pages[0].tags]
        assert 273 in codes and 324 in codes, codes
else:
    sys.exit('unknown kind ' + kind)
`;

/** Writes a TIFF of the given kind to `file` with Debian's tifffile (or Pillow for CCITT). */
export function writeTiff(kind: TiffKind, file: string): void {
  if (kind === 'ccitt-g4')
    ensureDebianPackage('python3-pil', () => pythonHas('PIL'), 'to write CCITT Group 4 TIFFs');
  else
    ensureDebianPackage(
      'python3-tifffile',
      () => pythonHas('tifffile', 'numpy'),
      'to write TIFF test files',
    );
  execFileSync(PYTHON, ['-c', SCRIPT, kind, file], { encoding: 'utf8', timeout: 60_000 });
}
