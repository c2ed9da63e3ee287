// `npm run build`: one esbuild bundle per function under dist/<fn>/, plus dist/all (every function on one
// port) and dist/migrate. Each folder holds
//   app.cjs        the bundle (CommonJS, so it can be compiled with a V8 code cache)
//   app.cjs.cache  V8 bytecode for it, written by starting the function once (see launcher.ts)
//   index.cjs      `node dist/<fn>/index.cjs` starts it
//   migrations/    the SQL migrations (the runner looks for ./migrations beside the bundle)
// and dist/start.cjs is the container entry: SLUICE_FUNCTION picks the folder. dist/s3-sdk.cjs,
// dist/pg-pool.cjs and dist/prom-client.cjs are the modules functions load on first use (see lazyChunks).
import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { freePort } from '../local/free-port.ts';
import { RUNTIME_PACKAGES } from './runtime-packages.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = path.join(root, 'dist');
export const FUNCTIONS = ['presign', 'datasets', 'events', 'rescan', 'jobs'] as const;

const entries: [string, string][] = [
  ...FUNCTIONS.map((fn): [string, string] => {
    const cap = fn[0]?.toUpperCase() + fn.slice(1);
    return [
      fn,
      `import { create${cap}App } from './functions/${fn}/app.ts';\nimport { startNode } from './functions/runtimes/start-node.ts';\nexport const ready = startNode('${fn}', create${cap}App);\n`,
    ];
  }),
  ['all', "export { ready } from './functions/runtimes/node.ts';\n"],
  ['migrate', "export { ready } from './functions/runtimes/migrate.ts';\n"],
];

/**
 * zod's namespace re-exports every locale (about 250 KiB); messages here are English, and a smaller
 * bundle starts faster. Only zod's own `../locales/index.js` is replaced.
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}node_modules${path.sep}zod${path.sep}`)
        ? { path: 'zod-locales', namespace: 'zod-english-only' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, () => ({
      contents: "export { default as en } from 'zod/v4/locales/en.js';",
      resolveDir: root,
    }));
  },
};

/**
 * pg asks "am I on Cloudflare Workers?" when it loads, by constructing a `Response`. On Node 20 (no
 * `navigator` global) that first touch of `Response` loads Node's fetch implementation, about 13 ms of
 * every cold start, for an answer a Node bundle already knows. The probe is replaced with `false`;
 * the build fails if pg's source no longer has it, so an upgrade cannot silently change behaviour.
 */
const pgOnNode: Plugin = {
  name: 'pg-on-node',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const probe = "typeof Response === 'function'";
      if (!source.includes(probe))
        throw new Error(`pg-on-node: ${args.path} no longer probes for Cloudflare as expected`);
      return { contents: source.replace(probe, 'false /* Node bundle */'), loader: 'js' };
    });
  },
};

/**
 * Modules the functions load on first use only, with `import()`: the AWS SDK (the first call that
 * reaches the store), pg (the first query) and prom-client (the first /metrics scrape). Bundled inline
 * they would still be read, and their code cache deserialised, at every start. Each is built once, as
 * dist/<chunk>.cjs, and a function bundle requires it from there when it is first needed. Only dynamic
 * imports are redirected: the migration job imports the pool statically and keeps it inline.
 */
const lazyChunks: { chunk: string; entry: string }[] = [
  { chunk: 's3-sdk', entry: path.join(root, 'shared/object-store/s3-sdk-module.ts') },
  { chunk: 'pg-pool', entry: path.join(root, 'shared/db/pool.ts') },
  { chunk: 'prom-client', entry: 'prom-client' },
];
const lazyApart: Plugin = {
  name: 'lazy-chunks-apart',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      const resolved = args.path.startsWith('.')
        ? path.resolve(args.resolveDir, args.path)
        : args.path;
      const hit = lazyChunks.find((c) => c.entry === resolved);
      return hit ? { path: `../${hit.chunk}.cjs`, external: true } : undefined;
    });
  },
};

/** Runs `node <args>` in a fresh process (a code cache is written by the process that compiled the code). */
function writeCacheWith(
  what: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`writing the code cache for ${what}: exit ${code}`)),
    );
  });
}

/** Starts `dist/<name>/index.cjs --write-code-cache` with throwaway settings; it writes the cache and exits. */
async function writeCodeCache(name: string): Promise<void> {
  await writeCacheWith(name, [path.join(out, name, 'index.cjs'), '--write-code-cache'], {
    PORT: String(await freePort()),
    JWT_SECRET: 'build-only',
    MINIO_ACCESS_KEY: 'build-only',
    MINIO_SECRET_KEY: 'build-only',
    LOG_LEVEL: 'silent',
  });
}

/** The launcher reads bundles and chunks as latin1 (see launcher.ts): that is only exact for ASCII. */
async function assertAscii(file: string): Promise<Buffer> {
  const bytes = await readFile(file);
  const at = bytes.findIndex((b) => b > 0x7f);
  if (at >= 0) throw new Error(`${path.relative(root, file)} has a non-ASCII byte at offset ${at}`);
  return bytes;
}

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: [path.join(root, 'infra/build/launcher.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: path.join(out, 'launcher.cjs'),
  logLevel: 'warning',
});
await writeFile(
  path.join(out, 'start.cjs'),
  "// Container entry: SLUICE_FUNCTION picks dist/<name>/ (default: all).\nrequire('./launcher.cjs').launchSelected(__dirname);\n",
);

for (const { chunk, entry } of lazyChunks) {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    mainFields: ['module', 'main'],
    outfile: path.join(out, `${chunk}.cjs`),
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    external: ['pg-native'],
    // The launcher reads chunks as latin1 and runs them as a vm.Script too (no import() there).
    charset: 'ascii',
    supported: { 'dynamic-import': false },
    plugins: [pgOnNode],
    logLevel: 'warning',
  });
}

// The HDF5 worker thread (shared/ingest/pipeline-host.ts starts dist/ingest-worker.cjs). A worker loads
// it as a plain CommonJS file, so import() keeps its module loader (h5wasm is ESM, from node_modules).
await build({
  entryPoints: [path.join(root, 'shared/ingest/pipeline-worker.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  mainFields: ['module', 'main'],
  outfile: path.join(out, 'ingest-worker.cjs'),
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  external: [...RUNTIME_PACKAGES, 'h5wasm/*'],
  define: { 'import.meta.url': '__sluice_import_meta_url' },
  banner: {
    js: "const __sluice_import_meta_url = require('node:url').pathToFileURL(__filename).href;",
  },
  logLevel: 'warning',
});

const sizes: Record<string, number> = {};
for (const [name, contents] of entries) {
  const dir = path.join(out, name);
  await mkdir(dir, { recursive: true });
  await build({
    stdin: { contents, resolveDir: root, sourcefile: `${name}-entry.ts`, loader: 'ts' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // ESM builds first: they tree-shake (the AWS SDK's CommonJS builds bring every command along).
    mainFields: ['module', 'main'],
    outfile: path.join(dir, 'app.cjs'),
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    // esbuild's default, stated because the launcher depends on it (ASCII bundles are read as latin1).
    charset: 'ascii',
    // pg's optional native binding, and the packages loaded from node_modules at run time.
    external: ['pg-native', ...RUNTIME_PACKAGES, 'h5wasm/*'],
    // import() inside a vm.Script has no loader on Node 20 (the SDK imports node:http that way):
    // let esbuild turn every import() into require(). External packages go through importExternal().
    supported: { 'dynamic-import': false },
    define: { 'import.meta.url': '__sluice_import_meta_url' },
    banner: {
      js: "const __sluice_import_meta_url = require('node:url').pathToFileURL(__filename).href;",
    },
    plugins: [zodEnglishOnly, pgOnNode, lazyApart],
    logLevel: 'warning',
  });
  await writeFile(
    path.join(dir, 'index.cjs'),
    `// Starts dist/${name}/app.cjs with its V8 code cache (see infra/build/launcher.ts).\nrequire('../launcher.cjs').launch(__dirname);\n`,
  );
  await cp(path.join(root, 'shared/db/migrations'), path.join(dir, 'migrations'), {
    recursive: true,
  });
  sizes[name] = (await assertAscii(path.join(dir, 'app.cjs'))).length;
}
// Functions only: the migration job runs once and exits.
for (const name of [...FUNCTIONS, 'all']) await writeCodeCache(name);
// Each lazy chunk's cache, written by running its top level once in a fresh process.
for (const { chunk } of lazyChunks) {
  const file = path.join(out, `${chunk}.cjs`);
  await assertAscii(file);
  const launcher = JSON.stringify(path.join(out, 'launcher.cjs'));
  await writeCacheWith(chunk, [
    '-e',
    `require(${launcher}).loadChunk(${JSON.stringify(file)}, { write: true })`,
  ]);
}
for (const [name, size] of Object.entries(sizes)) {
  const cache = await stat(path.join(out, name, 'app.cjs.cache')).then(
    (s) => `, code cache ${(s.size / 1024).toFixed(0)} KiB`,
    () => '',
  );
  process.stdout.write(`dist/${name}/app.cjs ${(size / 1024).toFixed(0)} KiB${cache}\n`);
}
