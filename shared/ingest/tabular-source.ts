import { BinaryWriter } from './copy-binary.ts';
import {
  type H5Dataset,
  type H5Group,
  type H5Instance,
  readRawRows,
  walkDatasets,
} from './h5-file.ts';
import {
  type FieldColumn,
  fieldColumns,
  type H5Meta,
  H5T,
  hasVlen,
  UnsupportedTypeError,
  unsupportedReason,
  type VlenValue,
  vlenColumn,
  withBooleanBitfields,
} from './h5-types.ts';

/** A table to write: its columns and a reader producing COPY text for a range of rows. */
export interface TabularSource {
  /** Dataset path (or group path for column-per-dataset groups). */
  path: string;
  kind: 'compound' | 'columns' | 'matrix' | 'vector' | 'scalar' | 'empty';
  rows: number;
  columns: { name: string; pgType: string }[];
  /** COPY data for rows [start, end): text (rows ended by `\n`), or binary tuples when `binary`. */
  read(start: number, end: number): Promise<string | Buffer>;
  /** True when `read` yields binary COPY tuples (every column has a binary form). */
  binary?: boolean;
  /** Members of this dataset left out (the rest is loaded), with the reason. */
  skipped?: Skipped[];
}

export interface Skipped {
  path: string;
  reason: string;
}

/** Names of filters h5wasm knows by id, for messages about missing plugins. */
const filterNames: Record<number, string> = {
  32000: 'LZF',
  32001: 'Blosc',
  32004: 'LZ4',
  32008: 'Bitshuffle',
  32015: 'Zstandard',
  307: 'bzip2',
};

function describeReadError(ds: H5Dataset, err: unknown): string {
  let filters: { id: number; name?: string }[] = [];
  try {
    filters = ds.filters ?? [];
  } catch {
    filters = [];
  }
  const unusual = filters.filter((f) => f.id >= 256);
  if (unusual.length > 0) {
    const names = unusual
      .map((f) => `${filterNames[f.id] ?? f.name ?? 'unknown'} (filter ${f.id})`)
      .join(', ');
    return `cannot decode compression ${names}: ${(err as Error).message || 'read failed'}`;
  }
  return `read failed: ${(err as Error).message || String(err)}`;
}

/** Column names are unique and never empty; duplicates get `_2`, `_3`... */
function uniqueNames<T extends { name: string }>(cols: T[]): T[] {
  const seen = new Map<string, number>();
  return cols.map((c) => {
    const base = c.name || 'col';
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? { ...c, name: base } : { ...c, name: `${base}_${n}` };
  });
}

/**
 * Where a fixed-size record of type `m` holds pointers to memory the library allocated for vlen data
 * (a vlen string is a `char *`, a sequence an `hvl_t` {length, pointer}; wasm32 pointers are 4 bytes).
 */
function vlenPointerOffsets(m: H5Meta, base = 0): number[] {
  if (m.type === H5T.STRING && m.vlen) return [base];
  if (m.type === H5T.VLEN) return [base + 4];
  if (m.type === H5T.COMPOUND && m.compound_type)
    return m.compound_type.members.flatMap((x) => vlenPointerOffsets(x, base + (x.offset ?? 0)));
  if (m.type === H5T.ARRAY && m.array_type) {
    const el = m.array_type;
    const one = vlenPointerOffsets(el);
    return Array.from({ length: el.total_size }, (_, i) =>
      one.map((o) => base + i * el.size + o),
    ).flat();
  }
  return [];
}

/**
 * Frees the vlen memory the library allocated for `rows` records of `rowBytes` (its default allocator
 * is the module's malloc). Done pointer by pointer because h5wasm's own reclaim walks the whole
 * dataset's extent, which overruns a buffer that holds only a slice.
 */
function freeVlenMemory(
  h5: H5Instance,
  bytes: Uint8Array,
  rows: number,
  rowBytes: number,
  at: number[],
) {
  if (at.length === 0) return;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let r = 0; r < rows; r++)
    for (const o of at) {
      const ptr = view.getUint32(r * rowBytes + o, true);
      if (ptr) h5.Module._free(ptr);
    }
}

/** Reads rows [start, end) of a 1-D or scalar vlen dataset: each row's data, copied out and freed. */
function readVlenRows(
  h5: H5Instance,
  ds: H5Dataset,
  start: number,
  end: number,
): (VlenValue | null)[] {
  const m = ds.metadata;
  const scalar = (m.shape?.length ?? 0) === 0;
  const n = scalar ? 1 : end - start;
  if (n <= 0) return [];
  const isString = m.type === H5T.STRING;
  const slot = isString ? 4 : 8;
  const baseSize = isString ? 1 : (m.vlen_type?.size ?? 1);
  const { Module } = h5;
  const ptr = Module._malloc(n * slot);
  if (!ptr) throw new Error(`cannot allocate ${n * slot} bytes for a read`);
  try {
    const rc = Module.get_dataset_data(
      ds.file_id,
      ds.path,
      scalar ? null : [BigInt(n)],
      scalar ? null : [BigInt(start)],
      scalar ? null : [1n],
      BigInt(ptr),
    );
    if (rc < 0) throw new Error(`reading ${ds.path} failed`);
    const heap = Module.HEAPU8;
    const slots = new DataView(heap.buffer, ptr, n * slot);
    const out: (VlenValue | null)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      if (isString) {
        const p = slots.getUint32(i * 4, true);
        if (!p) {
          out[i] = null;
          continue;
        }
        const len = heap.indexOf(0, p) - p;
        out[i] = { bytes: heap.slice(p, p + len), count: len };
        Module._free(p);
      } else {
        const count = slots.getUint32(i * 8, true);
        const p = slots.getUint32(i * 8 + 4, true);
        out[i] = { bytes: p ? heap.slice(p, p + count * baseSize) : new Uint8Array(0), count };
        if (p) Module._free(p);
      }
    }
    return out;
  } catch (err) {
    throw new UnsupportedTypeError(describeReadError(ds, err));
  } finally {
    Module._free(ptr);
  }
}

/** A string attribute of a dataset (PyTables' `CLASS`, `PSEUDOATOM`), or undefined. */
function stringAttribute(ds: H5Dataset, name: string): string | undefined {
  const d = ds as H5Dataset & {
    attrs?: Record<string, unknown>;
    get_attribute?: (n: string, json: boolean) => unknown;
  };
  try {
    if (!d.attrs || !(name in d.attrs)) return undefined;
    const v = d.get_attribute?.(name, true);
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** PyTables marks every node with a CLASS attribute; its only 8-bit bitfield atom is `bool`. */
const PYTABLES_CLASSES = new Set(['TABLE', 'ARRAY', 'CARRAY', 'EARRAY', 'VLARRAY']);

/** The dataset's type as this reader uses it (PyTables' bools marked as booleans). */
function typeOf(ds: H5Dataset): H5Meta {
  const cls = stringAttribute(ds, 'CLASS');
  return cls && PYTABLES_CLASSES.has(cls) ? withBooleanBitfields(ds.metadata) : ds.metadata;
}

/** True when vlen data holds further vlen data (a sequence of vlen strings, say). */
function nestedVlen(m: H5Meta): boolean {
  if (m.type === H5T.VLEN) return m.vlen_type !== undefined && hasVlen(m.vlen_type);
  if (m.compound_type) return m.compound_type.members.some(nestedVlen);
  return m.array_type ? nestedVlen(m.array_type) : false;
}

/** A compound type without its variable-length members (named in `dropped`), or undefined if none is left. */
function withoutVlenMembers(m: H5Meta, prefix = '', dropped: string[] = []): H5Meta | undefined {
  if (m.type !== H5T.COMPOUND || !m.compound_type) return m;
  const members: H5Meta[] = [];
  for (const x of m.compound_type.members) {
    const name = prefix ? `${prefix}__${x.name}` : (x.name as string);
    if (x.type !== H5T.COMPOUND && hasVlen(x)) {
      dropped.push(name);
      continue;
    }
    const kept = withoutVlenMembers(x, name, dropped);
    if (kept) members.push(kept);
  }
  return members.length ? { ...m, compound_type: { ...m.compound_type, members } } : undefined;
}

function rawSource(
  h5: H5Instance,
  path: string,
  ds: H5Dataset,
  kind: TabularSource['kind'],
  cols: FieldColumn[],
  rows: number,
  rowBytes: number,
  textOnly: boolean,
  vlenAt: number[] = [],
): TabularSource {
  const columns = uniqueNames(cols);
  const binary = !textOnly && columns.every((c) => c.binary !== undefined);
  const writer = binary ? new BinaryWriter() : undefined;
  const nc = columns.length;
  return {
    path,
    kind,
    rows,
    binary,
    columns: columns.map((c) => ({ name: c.name, pgType: c.pgType })),
    async read(start, end) {
      let bytes: Uint8Array;
      try {
        bytes = readRawRows(h5, ds, start, end);
      } catch (err) {
        throw new UnsupportedTypeError(describeReadError(ds, err));
      }
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const n = end - start;
      freeVlenMemory(h5, bytes, n, rowBytes, vlenAt);
      if (writer) {
        const enc = columns.map((c) => c.binary as NonNullable<FieldColumn['binary']>);
        const offs = columns.map((c) => c.offset);
        for (let r = 0; r < n; r++) {
          const base = r * rowBytes;
          writer.ensure(2);
          writer.int16(nc);
          for (let c = 0; c < nc; c++)
            (enc[c] as NonNullable<FieldColumn['binary']>)(
              view,
              base + (offs[c] as number),
              writer,
            );
        }
        return writer.take();
      }
      const lines: string[] = new Array(n);
      const parts: string[] = new Array(nc);
      for (let r = 0; r < n; r++) {
        const base = r * rowBytes;
        for (let c = 0; c < nc; c++) {
          const col = columns[c] as FieldColumn;
          parts[c] = col.encode(view, base + col.offset);
        }
        lines[r] = parts.join('\t');
      }
      return n ? `${lines.join('\n')}\n` : '';
    },
  };
}

/** Columns for one dataset read row by row, or a reason it cannot be a table. */
function datasetSource(
  h5: H5Instance,
  path: string,
  ds: H5Dataset,
  textOnly = false,
): TabularSource | Skipped {
  const m = typeOf(ds);
  const reason = unsupportedReason(m);
  if (reason) return { path, reason };
  const shape = m.shape;
  if (shape === null || shape === undefined) {
    // H5S_NULL: a dataset with no dataspace holds nothing: an empty one-column table.
    let pgType = 'text';
    try {
      pgType = fieldColumns(m, 'value')[0]?.pgType ?? 'text';
    } catch {
      pgType = 'text';
    }
    return {
      path,
      kind: 'empty',
      rows: 0,
      columns: [{ name: 'value', pgType }],
      read: async () => '',
    };
  }
  if (shape.length > 2) return { path, reason: `${shape.length}-D datasets are not tabular` };
  const rows = shape.length === 0 ? 1 : (shape[0] as number);

  if (hasVlen(m) && m.type === H5T.COMPOUND) {
    if (shape.length === 2) return { path, reason: '2-D compound datasets are not tabular' };
    return compoundWithoutVlen(h5, path, ds, m, rows, textOnly);
  }
  if (hasVlen(m)) {
    if (shape.length === 2) return { path, reason: '2-D variable-length data is not tabular' };
    if (m.type !== H5T.STRING && m.type !== H5T.VLEN)
      return { path, reason: 'arrays of variable-length data are not supported' };
    let col: ReturnType<typeof vlenColumn>;
    try {
      col = vlenColumn(m, stringAttribute(ds, 'PSEUDOATOM') === 'vlunicode');
    } catch (err) {
      if (err instanceof UnsupportedTypeError) return { path, reason: err.message };
      throw err;
    }
    return {
      path,
      kind: shape.length === 0 ? 'scalar' : 'vector',
      rows,
      columns: [{ name: 'value', pgType: col.pgType }],
      async read(start, end) {
        const values = readVlenRows(h5, ds, start, end);
        return values.length ? `${values.map(col.encode).join('\n')}\n` : '';
      },
    };
  }

  try {
    if (shape.length === 2) {
      if (m.type === H5T.COMPOUND) return { path, reason: '2-D compound datasets are not tabular' };
      const ncols = shape[1] as number;
      const one = fieldColumns(m, 'x')[0] as FieldColumn;
      const cols = Array.from({ length: ncols }, (_, i) => ({
        ...one,
        name: `col_${i}`,
        offset: i * m.size,
      }));
      return rawSource(h5, path, ds, 'matrix', cols, rows, m.size * ncols, textOnly);
    }
    const kind = m.type === H5T.COMPOUND ? 'compound' : shape.length === 0 ? 'scalar' : 'vector';
    return rawSource(
      h5,
      path,
      ds,
      kind,
      fieldColumns(m, m.type === H5T.COMPOUND ? '' : 'value'),
      rows,
      m.size,
      textOnly,
    );
  } catch (err) {
    if (err instanceof UnsupportedTypeError) return { path, reason: err.message };
    throw err;
  }
}

/**
 * A compound dataset with variable-length members: the other members are loaded, each vlen member is
 * named in `skipped` (records are read whole, so the vlen memory the library allocated is freed).
 */
function compoundWithoutVlen(
  h5: H5Instance,
  path: string,
  ds: H5Dataset,
  m: H5Meta,
  rows: number,
  textOnly: boolean,
): TabularSource | Skipped {
  const dropped: string[] = [];
  const kept = withoutVlenMembers(m, '', dropped);
  const why = 'variable-length members of compound types are not loaded';
  if (!kept) return { path, reason: `every member is variable-length: ${why}` };
  // Memory of vlen data inside vlen data could not be freed member by member.
  if (nestedVlen(m)) return { path, reason: `nested ${why}` };
  try {
    const source = rawSource(
      h5,
      path,
      ds,
      'compound',
      fieldColumns(kept, ''),
      rows,
      m.size,
      textOnly,
      vlenPointerOffsets(m),
    );
    source.skipped = dropped.map((name) => ({ path, reason: `member '${name}' skipped: ${why}` }));
    return source;
  } catch (err) {
    if (err instanceof UnsupportedTypeError) return { path, reason: err.message };
    throw err;
  }
}

/** Group members that are 1-D, share one length, and are not compound: candidates for columns. */
function columnGroup(
  h5: H5Instance,
  groupPath: string,
  members: { name: string; path: string; ds: H5Dataset }[],
): { source: TabularSource; used: Set<string> } | undefined {
  const oneD = members.filter((x) => {
    const m = x.ds.metadata;
    return (
      m.shape?.length === 1 &&
      m.type !== H5T.COMPOUND &&
      !unsupportedReason(m) &&
      !(m.type === H5T.ARRAY && hasVlen(m))
    );
  });
  if (oneD.length < 2) return undefined;
  // The most common length wins; datasets of other lengths stay tables of their own.
  const counts = new Map<number, number>();
  for (const x of oneD)
    counts.set(x.ds.metadata.shape?.[0] ?? 0, (counts.get(x.ds.metadata.shape?.[0] ?? 0) ?? 0) + 1);
  const [length, n] = [...counts.entries()].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0] ?? [0, 0];
  if (n < 2) return undefined;
  const same = oneD.filter((x) => x.ds.metadata.shape?.[0] === length);
  const parts = same.map((x) => ({ name: x.name, source: datasetSource(h5, x.path, x.ds, true) }));
  if (parts.some((p) => !('read' in p.source))) return undefined;
  const sources = parts.map((p) => ({ name: p.name, source: p.source as TabularSource }));
  const columns = uniqueNames(
    sources.map((s) => ({ name: s.name, pgType: s.source.columns[0]?.pgType ?? 'text' })),
  );
  const source: TabularSource = {
    path: groupPath || '/',
    kind: 'columns',
    rows: length ?? 0,
    columns,
    async read(start, end) {
      const blocks = await Promise.all(sources.map((s) => s.source.read(start, end)));
      const split = blocks.map((b) => String(b).split('\n'));
      const n = end - start;
      const lines: string[] = new Array(n);
      for (let r = 0; r < n; r++) lines[r] = split.map((col) => col[r]).join('\t');
      return n ? `${lines.join('\n')}\n` : '';
    },
  };
  return { source, used: new Set(same.map((x) => x.path)) };
}

/**
 * Finds every tabular dataset in a file (the `tables` pipeline): compound datasets, groups of
 * equal-length 1-D datasets, 2-D arrays, 1-D and scalar datasets. PyTables index groups are skipped.
 */
export function findTabularSources(
  h5: H5Instance,
  root: H5Group,
): { sources: TabularSource[]; skipped: Skipped[] } {
  const sources: TabularSource[] = [];
  const skipped: Skipped[] = [];
  const byGroup = new Map<string, { name: string; path: string; ds: H5Dataset }[]>();
  for (const item of walkDatasets(root)) {
    if ('skipped' in item) {
      skipped.push({ path: item.path, reason: item.skipped });
      continue;
    }
    const cut = item.path.lastIndexOf('/');
    const group = item.path.slice(0, cut);
    if (/(^|\/)_i_[^/]*$/.test(group) || /(^|\/)_i_[^/]*\//.test(item.path)) {
      skipped.push({ path: item.path, reason: 'PyTables index data' });
      continue;
    }
    const list = byGroup.get(group) ?? [];
    list.push({ name: item.path.slice(cut + 1), path: item.path, ds: item.dataset });
    byGroup.set(group, list);
  }
  for (const [group, members] of byGroup) {
    const grouped = columnGroup(h5, group, members);
    if (grouped) sources.push(grouped.source);
    for (const m of members) {
      if (grouped?.used.has(m.path)) continue;
      const s = datasetSource(h5, m.path, m.ds);
      if ('read' in s) {
        sources.push(s);
        skipped.push(...(s.skipped ?? []));
      } else skipped.push(s);
    }
  }
  return { sources, skipped };
}
