// npm run bench:preview — the multiscale OME-Zarr preview of a 20,000 x 20,000 uint16 tiled TIFF
// against a libvips pyramid of the same file (`vips tiffsave --tile --pyramid`), interleaved in one
// run; the preview is then checked with an independent reader (Debian's python3-zarr).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureVips, runZarrPython } from '../helpers/image-writers.ts';

const SIDE = Number(process.env.BENCH_SIDE ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const say = (s: string) => process.stdout.write(`${s}\n`);

ensureVips();
const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-bench-preview-'));
const source = path.join(dir, 'big.tif');
say(`writing a ${SIDE} x ${SIDE} uint16 TIFF (256 x 256 tiles) with tifffile...`);
// Tile by tile from a generator, so the writer never holds the image; pixel = (x + 3y) mod 65536.
runZarrPython(
  String.raw`
import sys, numpy as np, tifffile
side, out, t = int(sys.argv[1]), sys.argv[2], 256
def tiles():
    for ty in range(0, side, t):
        for tx in range(0, side, t):
            y, x = np.mgrid[ty:ty + t, tx:tx + t]
            yield ((x + 3 * y) % 65536).astype('uint16')
tifffile.imwrite(out, tiles(), shape=(side, side), dtype='uint16', tile=(t, t), metadata=None)
`,
  [String(SIDE), source],
);
// Both readers start with the file in the page cache.
execFileSync('cat', [source], { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 });

const vipsRun = () => {
  const out = path.join(dir, 'vips.tif');
  const t0 = performance.now();
  execFileSync('/usr/bin/vips', ['tiffsave', source, out, '--tile', '--pyramid'], {
    timeout: 600_000,
  });
  const s = (performance.now() - t0) / 1000;
  execFileSync('rm', ['-f', out]);
  return s;
};
const sluiceRun = async () => {
  const out = path.join(dir, 'preview.ome.zarr');
  await rm(out, { recursive: true, force: true });
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.resolve('test/bench/preview-child.ts'), source, out],
    { encoding: 'utf8', timeout: 600_000 },
  );
  if (child.status !== 0) throw new Error(`preview build failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').at(-1) as string) as {
    seconds: number;
    peakRssMb: number;
  };
};

const vipsTimes: number[] = [];
const sluiceTimes: number[] = [];
let peakRssMb = 0;
for (let round = 1; round <= ROUNDS; round++) {
  vipsTimes.push(vipsRun());
  const r = await sluiceRun();
  sluiceTimes.push(r.seconds);
  peakRssMb = Math.max(peakRssMb, r.peakRssMb);
  say(
    `round ${round}: vips ${vipsTimes.at(-1)?.toFixed(2)} s, sluice ${r.seconds.toFixed(2)} s (peak RSS ${r.peakRssMb} MB)`,
  );
}

say('checking the preview with python3-zarr...');
const check = runZarrPython(
  String.raw`
import sys, json, random, numpy as np, zarr
g = zarr.open(sys.argv[1], mode='r')
ms = g.attrs['multiscales'][0]
assert ms['version'] == '0.4', ms['version']
assert [a['name'] for a in ms['axes']] == ['t', 'c', 'z', 'y', 'x'], ms['axes']
shapes = [g[d['path']].shape for d in ms['datasets']]
chunks = [g[d['path']].chunks for d in ms['datasets']]
side = int(sys.argv[2])
expected, s = [], side
while True:
    expected.append((1, 1, 1, s, s))
    if s <= 1024: break
    s = (s + 1) // 2
assert shapes == expected, (shapes, expected)
assert all(c[:3] == (1, 1, 1) and c[3] <= 512 and c[4] <= 512 for c in chunks), chunks
l0, l1 = g[ms['datasets'][0]['path']], g[ms['datasets'][1]['path']]
random.seed(7)
for _ in range(200):
    y, x = random.randrange(side // 2), random.randrange(side // 2)
    block = l0[0, 0, 0, 2 * y:2 * y + 2, 2 * x:2 * x + 2].astype(np.float64)
    assert abs(float(l1[0, 0, 0, y, x]) - block.mean()) <= 0.5, (y, x, l1[0, 0, 0, y, x], block)
    assert int(l0[0, 0, 0, 2 * y, 2 * x]) == (2 * x + 3 * 2 * y) % 65536
print(json.dumps({'levels': len(shapes), 'shapes': [list(s) for s in shapes]}))
`,
  [path.join(dir, 'preview.ome.zarr'), String(SIDE)],
);
say(`python3-zarr: ${check.trim()}; 200 level-1 pixels are the mean of their 2x2 blocks`);

const vipsS = Math.min(...vipsTimes);
const sluiceS = Math.min(...sluiceTimes);
say(
  `targets: sluice_s <= 2 x vips_s (${(2 * vipsS).toFixed(2)}): ${sluiceS <= 2 * vipsS ? 'met' : 'NOT met'}; peak_rss_mb <= 400: ${peakRssMb <= 400 ? 'met' : 'NOT met'}`,
);
say(
  `RESULT preview pixels=${SIDE * SIDE} sluice_s=${sluiceS.toFixed(2)} vips_s=${vipsS.toFixed(2)} peak_rss_mb=${peakRssMb}`,
);
await rm(dir, { recursive: true, force: true });
