// Starts a bundle under dist/<name>/ (app.cjs) with the V8 code cache written beside it at build time.
//
// Why: most of a cold start is V8 parsing and compiling a megabyte of bundled JavaScript. Node 20 has no
// compile cache for user code, so the launcher compiles the bundle itself as a vm.Script and hands V8
// the bytecode it produced for the same file during `npm run build` (app.cjs.cache). V8 checks that the
// cache matches the source, its own version and its flags; if not, it compiles as usual and the launcher
// writes a fresh cache once the function has served for a moment (where the filesystem allows).
//
// This file runs before the function's config exists, so it reads only its own command-line switches:
//   --write-code-cache   start, answer one /healthz, write app.cjs.cache and exit (used by the build)
//   --no-code-cache      ignore the cache (the cold-start benchmark measures both ways)
//   --code-cache-report  print whether the cache was accepted (tests), for the bundle and for each lazy
//                        chunk as it loads
//
// The lazy chunks (dist/<chunk>.cjs: the AWS SDK, pg, prom-client; see build.ts) are loaded the same way,
// with the cache the build wrote beside each, when the function first needs them.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire, wrap } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

interface BundleExports {
  /** Resolves once the function listens (with its URL), or once a one-shot job (migrate) is done. */
  ready?: Promise<{ url?: string } | undefined>;
}

type CacheState = 'accepted' | 'rejected' | 'missing' | 'off';

function warn(msg: string, extra: Record<string, unknown> = {}): void {
  // The shape of the functions' own (pino) log lines, so log collectors treat it alike.
  process.stderr.write(
    `${JSON.stringify({ level: 40, time: Date.now(), name: 'sluice', msg, ...extra })}\n`,
  );
}

function writeCache(script: vm.Script, cacheFile: string): void {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  writeFileSync(tmp, script.createCachedData());
  renameSync(tmp, cacheFile);
}

/**
 * Compiles a CommonJS file (read as latin1: the build emits ASCII only, so that decodes it exactly and
 * straight into a one-byte string, cheaper than UTF-8 decoding on every cold start) with the code cache
 * beside it when `useCache`; says whether V8 took the cache.
 */
function compile(file: string, useCache: boolean): { script: vm.Script; state: CacheState } {
  let cachedData: Buffer | undefined;
  if (useCache) {
    try {
      cachedData = readFileSync(`${file}.cache`);
    } catch {
      cachedData = undefined;
    }
  }
  const script = new vm.Script(wrap(readFileSync(file, 'latin1')), { filename: file, cachedData });
  const state: CacheState = !useCache
    ? 'off'
    : !cachedData
      ? 'missing'
      : script.cachedDataRejected
        ? 'rejected'
        : 'accepted';
  return { script, state };
}

const chunks = new Map<string, unknown>();

/**
 * Compiles and runs a lazy chunk with its code cache (`<file>.cache`), once per process; `write` compiles
 * without the cache and writes a fresh one after running the chunk's top level (the build does that).
 */
export function loadChunk(file: string, opts: { write?: boolean; report?: boolean } = {}): unknown {
  const loaded = chunks.get(file);
  if (loaded) return loaded;
  const { script, state } = compile(file, !opts.write);
  if (opts.report) process.stderr.write(`code-cache ${path.basename(file)}: ${state}\n`);
  const mod = { exports: {} as unknown, filename: file, id: file };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file));
  if (opts.write) writeCache(script, `${file}.cache`);
  chunks.set(file, mod.exports);
  return mod.exports;
}

/** The bundle's `require`: lazy chunks (`../<chunk>.cjs`) go through {@link loadChunk}, the rest as usual. */
function bundleRequire(file: string, report: boolean): NodeJS.Require {
  const req = createRequire(file);
  const load = (id: string) =>
    id.startsWith('../') && id.endsWith('.cjs')
      ? loadChunk(path.resolve(path.dirname(file), id), { report })
      : req(id);
  return Object.assign(load, req);
}

/** Compiles and runs `<dir>/app.cjs`; resolves when its `ready` promise does. */
export async function launch(dir: string, argv = process.argv.slice(2)): Promise<void> {
  const file = path.join(dir, 'app.cjs');
  const cacheFile = `${file}.cache`;
  const writeMode = argv.includes('--write-code-cache');
  const { script, state } = compile(file, !writeMode && !argv.includes('--no-code-cache'));
  if (argv.includes('--code-cache-report')) process.stderr.write(`code-cache: ${state}\n`);
  else if (state === 'rejected')
    warn(
      'V8 code cache rejected (another Node version or V8 flags); compiling the bundle instead',
      {
        cacheFile,
      },
    );

  // Dynamic import() inside a vm.Script has no loader on Node 20; lend this module's.
  (globalThis as { __sluiceImport?: (s: string) => Promise<unknown> }).__sluiceImport = (s) =>
    import(s);

  const mod = { exports: {} as BundleExports, filename: file, id: file };
  let done: { url?: string } | undefined;
  try {
    const run = script.runInThisContext() as (...args: unknown[]) => void;
    const report = argv.includes('--code-cache-report');
    run.call(mod.exports, mod.exports, bundleRequire(file, report), mod, file, dir);
    done = await mod.exports.ready;
  } catch (err) {
    const e = err as Error;
    // A configuration error is the operator's to fix: its message says what; a stack would only hide it.
    process.stderr.write(`${e?.name === 'ConfigError' ? e.message : (e?.stack ?? String(e))}\n`);
    process.exit(1);
  }

  if (writeMode) {
    // Run the request path once so its functions are compiled into the cache too.
    if (done?.url) await fetch(`${done.url}/healthz`).then((r) => r.arrayBuffer());
    writeCache(script, cacheFile);
    process.exit(0);
  }
  if (state === 'rejected' || state === 'missing') {
    // Best effort: a read-only image keeps working, just without the cache.
    setTimeout(() => {
      try {
        writeCache(script, cacheFile);
      } catch {
        // read-only filesystem or no permission: nothing to do
      }
    }, 2_000).unref();
  }
}

/** Names the launcher accepts for SLUICE_FUNCTION (each a folder under dist/). */
const NAMES = new Set(['all', 'presign', 'datasets', 'events', 'rescan', 'jobs']);

/** `node dist/start.cjs`: the container entry; SLUICE_FUNCTION picks the bundle (default: all). */
export function launchSelected(distDir: string): Promise<void> {
  const name = process.env.SLUICE_FUNCTION?.trim() || 'all';
  if (!NAMES.has(name)) {
    process.stderr.write(
      `Invalid configuration: SLUICE_FUNCTION: expected one of ${[...NAMES].join(', ')}, got '${name}'\n`,
    );
    process.exit(1);
  }
  return launch(path.join(distDir, name));
}
