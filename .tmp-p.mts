import { buildPreview } from './functions/datasets/preview-builder.ts';
const t0 = Date.now();
const r = await buildPreview(process.argv[2], process.argv[3]);
console.log(JSON.stringify(r).slice(0, 600), (Date.now() - t0) / 1000, 's rss', process.memoryUsage().rss / 1e6);
