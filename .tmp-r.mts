import { fromFile } from 'geotiff';
const t = await fromFile('/tmp/img/big.tif');
const im = await t.getImage(0);
const W = im.getWidth(), H = im.getHeight();
let t0 = Date.now(); let sum = 0;
for (let y = 0; y < H; y += 512) {
  const r = await im.readRasters({ window: [0, y, W, Math.min(H, y + 512)], samples: [0] });
  sum += (r[0] as Uint16Array)[0];
}
console.log('readRasters', (Date.now() - t0) / 1000, process.memoryUsage().rss / 1e6);
