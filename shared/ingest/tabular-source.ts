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
  H5T,
  hasVlen,
  processedColumn,
  UnsupportedTypeError,
  unsupportedReason,
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

function rawSource(
  h5: H5Instance,
  path: string,
  ds: H5Dataset,
  kind: TabularSource['kind'],
  cols: FieldColumn[],
  rows: number,
  rowBytes: number,
  textOnly: boolean,
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

/** Values h5wasm already processed (vlen strings and sequences): one column per dataset. */
function processedValues(ds: H5Dataset, start: number, end: number): unknown[] {
  try {
    const shape = ds.metadata.shape as number[];
    // Slicing vlen strings trips a bounds bug in the library; whole reads of these (index columns,
    // labels) are small, so read whole and cut.
    const whole = shape.length === 0 ? [ds.value] : (ds.value as ArrayLike<unknown>);
    const v = shape.length === 0 ? whole : Array.prototype.slice.call(whole, start, end);
    return Array.isArray(v) ? v : Array.from(v as ArrayLike<unknown>);
  } catch (err) {
    throw new UnsupportedTypeError(describeReadError(ds, err));
  }
}

/** Columns for one dataset read row by row, or a reason it cannot be a table. */
function datasetSource(
  h5: H5Instance,
  path: string,
  ds: H5Dataset,
  textOnly = false,
): TabularSource | Skipped {
  const m = ds.metadata;
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

  if (hasVlen(m)) {
    if (m.type === H5T.COMPOUND)
      return { path, reason: 'compound types with variable-length members are not supported' };
    if (shape.length === 2) return { path, reason: '2-D variable-length data is not tabular' };
    const col = processedColumn(m);
    return {
      path,
      kind: shape.length === 0 ? 'scalar' : 'vector',
      rows,
      columns: [{ name: 'value', pgType: col.pgType }],
      async read(start, end) {
        const values = processedValues(ds, start, end);
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
      if ('read' in s) sources.push(s);
      else skipped.push(s);
    }
  }
  return { sources, skipped };
}
