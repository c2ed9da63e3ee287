// `npm run build`: one esbuild bundle per function under dist/<fn>/index.mjs, plus dist/migrate, each with
// the SQL migrations beside it (the runner looks for ./migrations next to the bundle).
import { cp, mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = path.join(root, 'dist');
export const FUNCTIONS = ['presign', 'datasets', 'events', 'rescan', 'jobs'] as const;

const entries: Record<string, string> = Object.fromEntries(
  FUNCTIONS.map((fn) => {
    const cap = fn[0]?.toUpperCase() + fn.slice(1);
    return [
      fn,
      `import { create${cap}App } from './functions/${fn}/app.ts';\nimport { startNode } from './functions/runtimes/start-node.ts';\nawait startNode('${fn}', create${cap}App);\n`,
    ];
  }),
);

await rm(out, { recursive: true, force: true });
const sizes: Record<string, number> = {};
for (const [name, contents] of [
  ...Object.entries(entries),
  ['migrate', "import './functions/runtimes/migrate.ts';\n"],
  ['all', "import './functions/runtimes/node.ts';\n"],
] as [string, string][]) {
  const dir = path.join(out, name);
  await mkdir(dir, { recursive: true });
  await build({
    stdin: { contents, resolveDir: root, sourcefile: `${name}-entry.ts`, loader: 'ts' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile: path.join(dir, 'index.mjs'),
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    // pg's optional native binding; the HDF5 and TIFF readers and the POST-policy signer are loaded from
    // node_modules at run time, on first use only (the image ships them; see infra/docker/Dockerfile).
    external: [
      'pg-native',
      'h5wasm',
      'h5wasm/*',
      'h5wasm-plugins',
      'geotiff',
      '@aws-sdk/s3-presigned-post',
    ],
    // Bundled CommonJS dependencies expect require(); give them one.
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    logLevel: 'warning',
  });
  await cp(path.join(root, 'shared/db/migrations'), path.join(dir, 'migrations'), {
    recursive: true,
  });
  sizes[name] = (await stat(path.join(dir, 'index.mjs'))).size;
}
for (const [name, size] of Object.entries(sizes))
  process.stdout.write(`dist/${name}/index.mjs ${(size / 1024).toFixed(0)} KiB\n`);
