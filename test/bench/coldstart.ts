// npm run bench:coldstart — process start to the first 200 on /healthz, median of 10 starts, for every
// function bundle and for a bare Hono hello-world bundle on @hono/node-server; plus bundle sizes.
// Functions start the way the image starts them (dist/<fn>/index.cjs, with the V8 code cache written by
// the build); the same bundle without the cache is measured too, for comparison.
import { spawn } from 'node:child_process';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { freePort } from '../../infra/local/free-port.ts';
import { mintAccessToken } from '../../shared/auth/jwt.ts';

const say = (s: string) => process.stdout.write(`${s}\n`);
const FUNCTIONS = ['presign', 'datasets', 'events', 'rescan', 'jobs'];
const RUNS = 10;

await new Promise<void>((resolve, reject) => {
  const b = spawn(process.execPath, ['--import', 'tsx', 'infra/build/build.ts'], {
    stdio: 'inherit',
  });
  b.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`build failed: ${code}`))));
});
const bareDir = path.resolve('dist/bare-hono');
await mkdir(bareDir, { recursive: true });
await writeFile(
  path.join(bareDir, 'entry.ts'),
  "import { serve } from '@hono/node-server';\nimport { Hono } from 'hono';\nconst app = new Hono();\napp.get('/healthz', (c) => c.json({ status: 'ok' }));\nserve({ fetch: app.fetch, port: Number(process.env.PORT) });\n",
);
// Both module formats; the faster one is the baseline.
for (const format of ['esm', 'cjs'] as const) {
  await build({
    entryPoints: [path.join(bareDir, 'entry.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format,
    minify: true,
    outfile: path.join(bareDir, format === 'esm' ? 'index.mjs' : 'index.cjs'),
    nodePaths: [path.resolve('node_modules')],
    logLevel: 'warning',
  });
}

// A first real request as well as /healthz: the presign function's first upload URL (JWT checked, URL
// signed), so a start that only looked fast by leaving work for later would show here.
const token = await mintAccessToken({ jwtSecret: 'bench' }, { sub: 'bench', ttlS: 3600 });
const firstUpload: RequestInit = {
  method: 'POST',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  body: JSON.stringify({ name: 'run1/data.h5', size: 1234 }),
};

async function coldStart(
  file: string,
  args: string[] = [],
  probe: { path: string; init?: RequestInit } = { path: '/healthz' },
): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [file, ...args], {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      JWT_SECRET: 'bench',
      MINIO_ACCESS_KEY: 'a',
      MINIO_SECRET_KEY: 'b',
      LOG_LEVEL: 'silent',
    },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}${probe.path}`, probe.init).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return performance.now() - t0;
      if (performance.now() - t0 > 20_000) throw new Error(`${file} did not answer within 20 s`);
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    // Wait until it is gone: a process still tearing down would compete with the next start.
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2;
};

// Every target is started once per round, rounds repeated RUNS times, so a machine that slows down or
// speeds up during the run (shared CPUs do) shifts the baseline and the functions alike. Each round
// uses its own order (a fixed-seed shuffle), so no target always starts after the same neighbour.
interface Target {
  file: string;
  args: string[];
  probe?: { path: string; init?: RequestInit };
  runs: number[];
}
const target = (file: string, args: string[] = [], probe?: Target['probe']): Target => ({
  file,
  args,
  probe,
  runs: [],
});
const bareEsm = target(path.join(bareDir, 'index.mjs'));
const bareCjs = target(path.join(bareDir, 'index.cjs'));
const fns = FUNCTIONS.map((fn) => ({
  fn,
  cached: target(`dist/${fn}/index.cjs`),
  uncached: target(`dist/${fn}/index.cjs`, ['--no-code-cache']),
}));
const presignUpload = target('dist/presign/index.cjs', [], {
  path: '/api/v1/uploads',
  init: firstUpload,
});
const all = [bareEsm, bareCjs, presignUpload, ...fns.flatMap((f) => [f.cached, f.uncached])];
for (const t of all) await coldStart(t.file, t.args, t.probe); // warm the file cache
let seed = 0x5eed;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
for (let round = 0; round < RUNS; round++) {
  const order = [...all];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (const t of order) t.runs.push(await coldStart(t.file, t.args, t.probe));
}
const ms = (t: Target) => Math.round(median(t.runs));

const bare = Math.min(ms(bareEsm), ms(bareCjs));
say(`bare Hono: ${bare} ms (ESM bundle ${ms(bareEsm)} ms, CommonJS bundle ${ms(bareCjs)} ms)`);
let worst = { fn: '', ms: 0, ratio: 0 };
let largest = 0;
for (const { fn, cached, uncached } of fns) {
  const kb = Math.round((await stat(`dist/${fn}/app.cjs`)).size / 1024);
  const cacheKb = Math.round((await stat(`dist/${fn}/app.cjs.cache`)).size / 1024);
  largest = Math.max(largest, kb);
  const limit = fn === 'events' ? 2.5 : 1.5;
  const [withCache, without] = [ms(cached), ms(uncached)];
  say(
    `${fn}: ${withCache} ms (${(withCache / bare).toFixed(2)} x bare; limit ${limit} x), bundle ${kb} KiB + code cache ${cacheKb} KiB; without the cache ${without} ms (${(without / bare).toFixed(2)} x)`,
  );
  if (withCache / bare / limit > worst.ratio)
    worst = { fn, ms: withCache, ratio: withCache / bare / limit };
}
say(
  `presign, start to the first presigned upload URL (POST /api/v1/uploads with a JWT): ${ms(presignUpload)} ms (${(ms(presignUpload) / bare).toFixed(2)} x bare's /healthz)`,
);
say(`targets: worst_ms <= 1.5 x hono_bare_ms (events 2.5 x); bundles <= 1536 KiB`);
say(
  `RESULT coldstart worst_fn=${worst.fn} worst_ms=${worst.ms} hono_bare_ms=${bare} largest_bundle_kb=${largest}`,
);
