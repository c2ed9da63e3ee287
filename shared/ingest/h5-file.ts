import { importExternal } from '../runtime/import-external.ts';
import type { H5Meta } from './h5-types.ts';

/** The parts of h5wasm this project uses, typed loosely (its own typings are broader). */
export interface H5Entity {
  type: 'Group' | 'Dataset' | 'Datatype' | 'BrokenSoftLink' | 'ExternalLink' | string;
  path: string;
}
export interface H5Group extends H5Entity {
  keys(): string[];
  get(name: string): H5Entity | null;
}
export interface H5Dataset extends H5Entity {
  file_id: bigint;
  metadata: H5Meta & { shape: number[] | null; total_size: number };
  filters: { id: number; name: string }[];
  slice(ranges: [number, number][]): unknown;
  value: unknown;
}
export interface H5File extends H5Group {
  close(): void;
}

interface H5Module {
  get_dataset_data(
    fileId: bigint,
    path: string,
    count: bigint[] | null,
    offset: bigint[] | null,
    strides: bigint[] | null,
    ptr: bigint,
  ): number;
  _malloc(n: number): number;
  _free(ptr: number): void;
  HEAPU8: Uint8Array;
}

export interface H5Instance {
  File: new (path: string, mode: string) => H5File;
  Module: H5Module;
}

let generation = 0;
let entry: string | undefined;

/** File URL of h5wasm's node build, found by walking up to the nearest `node_modules` that has it. */
async function h5wasmEntry(): Promise<string> {
  if (entry) return entry;
  const { existsSync } = await import('node:fs');
  const path = await import('node:path');
  const { fileURLToPath, pathToFileURL } = await import('node:url');
  const starts = [path.dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'node_modules', 'h5wasm', 'dist', 'node', 'hdf5_hl.js');
      if (existsSync(candidate)) {
        entry = pathToFileURL(candidate).href;
        return entry;
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error('h5wasm is not installed (node_modules/h5wasm not found)');
}

let shared: Promise<H5Instance> | undefined;

/**
 * Loads a new h5wasm instance (its own WebAssembly memory) on first use only, so functions that never
 * read HDF5 never pay for it at start-up.
 */
async function loadInstance(): Promise<H5Instance> {
  // A distinct URL per instance makes Node evaluate the module again, which instantiates new wasm.
  const url = `${await h5wasmEntry()}?instance=${++generation}`;
  const h5 = (await importExternal(url)) as { ready: Promise<H5Module>; File: H5Instance['File'] };
  const Module = await h5.ready;
  try {
    // The node build sees host paths, so the plugin folder is used where npm put it.
    const plugins = await importExternal<typeof import('h5wasm-plugins')>('h5wasm-plugins');
    plugins.install_local_plugins(Module);
  } catch {
    // Without plugins, LZF/Blosc datasets fail with an error naming the filter.
  }
  return { File: h5.File, Module };
}

/** The process's h5wasm instance. */
export function createH5(): Promise<H5Instance> {
  shared ??= loadInstance();
  return shared;
}

/**
 * Retires the current instance after a file made the library fail: its heap may be left in a bad
 * state, so the next file gets a new instance. (Module instances cannot be unloaded, so this is kept
 * for failures rather than done per file.)
 */
export function retireH5(h5: H5Instance): void {
  void shared?.then((current) => {
    if (current === h5) shared = undefined;
  });
}

const SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** HDF5's superblock signature sits at byte 0, 512, 1024, 2048, ... (files may carry a user block). */
async function hasSignature(path: string): Promise<boolean> {
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const buf = Buffer.alloc(8);
    for (let at = 0; at + 8 <= size; at = at === 0 ? 512 : at * 2) {
      await fh.read(buf, 0, 8, at);
      if (buf.equals(SIGNATURE)) return true;
    }
    return false;
  } finally {
    await fh.close();
  }
}

/** Opens a host file read-only in a fresh instance. Throws a readable error when it is not HDF5. */
export async function openH5(path: string): Promise<{ file: H5File; h5: H5Instance }> {
  if (!(await hasSignature(path))) throw new Error('not a readable HDF5 file (no HDF5 signature)');
  const h5 = await createH5();
  try {
    return { file: new h5.File(path, 'r'), h5 };
  } catch (err) {
    retireH5(h5);
    throw new Error(`not a readable HDF5 file (${(err as Error).message || 'open failed'})`);
  }
}

/** Every dataset below `group`, depth first in name order, with the groups it passed through. */
export function* walkDatasets(
  group: H5Group,
  prefix = '',
): Generator<{ path: string; dataset: H5Dataset } | { path: string; skipped: string }> {
  for (const name of group.keys().sort()) {
    const path = `${prefix}/${name}`;
    let child: H5Entity | null;
    try {
      child = group.get(name);
    } catch (err) {
      yield { path, skipped: `cannot open: ${(err as Error).message}` };
      continue;
    }
    if (!child) yield { path, skipped: 'link does not resolve' };
    else if (child.type === 'Group') yield* walkDatasets(child as H5Group, path);
    else if (child.type === 'Dataset') yield { path, dataset: child as H5Dataset };
  }
}

/**
 * Reads rows [start, end) of a dataset as raw fixed-size records (the file's own byte order), straight
 * from the library's buffer: no per-value JavaScript objects. Only for types without vlen data.
 */
export function readRawRows(h5: H5Instance, ds: H5Dataset, start: number, end: number): Uint8Array {
  const { Module } = h5;
  const shape = ds.metadata.shape as number[];
  const rowBytes = ds.metadata.size * shape.slice(1).reduce((a, b) => a * b, 1);
  const count = [BigInt(end - start), ...shape.slice(1).map(BigInt)];
  const offset = [BigInt(start), ...shape.slice(1).map(() => 0n)];
  const strides = shape.map(() => 1n);
  const nbytes = rowBytes * (end - start);
  if (nbytes === 0) return new Uint8Array(0);
  const ptr = Module._malloc(nbytes);
  if (!ptr) throw new Error(`cannot allocate ${nbytes} bytes for a read`);
  try {
    const rc = Module.get_dataset_data(ds.file_id, ds.path, count, offset, strides, BigInt(ptr));
    if (rc < 0) throw new Error(`reading ${ds.path} failed`);
    return Module.HEAPU8.slice(ptr, ptr + nbytes);
  } finally {
    Module._free(ptr);
  }
}
