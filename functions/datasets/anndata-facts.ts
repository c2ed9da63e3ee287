import { type H5Dataset, type H5File, type H5Group, openH5 } from '../../shared/ingest/h5-file.ts';
import { H5T } from '../../shared/ingest/h5-types.ts';

/** What a viewer needs to know about an `.h5ad` file, read without loading the matrix. */
export interface AnnDataFacts {
  nObs: number;
  nVars: number;
  encoding: 'anndata' | 'legacy-compound' | 'legacy-groups';
  obs: Record<string, string>;
  var: Record<string, string>;
  hasX: boolean;
}

/** A file that is not a readable AnnData file; the message says why. */
export class AnnDataError extends Error {
  override name = 'AnnDataError';
}

function typeName(ds: H5Dataset): string {
  const m = ds.metadata;
  switch (m.type) {
    case H5T.INTEGER:
      return `${m.signed ? 'int' : 'uint'}${m.size * 8}`;
    case H5T.FLOAT:
      return `float${m.size * 8}`;
    case H5T.STRING:
      return 'string';
    case H5T.ENUM:
      return Object.keys(m.enum_type?.members ?? {}).join('/') === 'FALSE/TRUE' ? 'bool' : 'enum';
    case H5T.BITFIELD:
      return 'bool';
    default:
      return `hdf5-class-${m.type}`;
  }
}

const attr = (e: unknown, name: string): unknown => {
  const attrs = (e as { attrs?: Record<string, { value: unknown }> }).attrs;
  try {
    return attrs?.[name]?.value;
  } catch {
    return undefined;
  }
};

/** Column names and types of an obs/var group (modern and 0.7-style encodings). */
function frameColumns(g: H5Group): { columns: Record<string, string>; rows: number } {
  const columns: Record<string, string> = {};
  let rows = 0;
  const indexName = String(attr(g, '_index') ?? '_index');
  for (const name of g.keys()) {
    if (name === '__categories') continue;
    const child = g.get(name);
    if (!child) continue;
    if (child.type === 'Dataset') {
      const ds = child as H5Dataset;
      const len = ds.metadata.shape?.[0] ?? 0;
      if (name === indexName) {
        rows = len;
        continue;
      }
      rows ||= len;
      // 0.7-style categoricals: integer codes with their labels under __categories.
      const cats = g.keys().includes('__categories')
        ? (g.get('__categories') as H5Group).keys()
        : [];
      columns[name] = cats.includes(name) ? 'category' : typeName(ds);
    } else if (child.type === 'Group') {
      const sub = child as H5Group;
      const kind = String(attr(sub, 'encoding-type') ?? '');
      columns[name] = kind === 'categorical' ? 'category' : kind || 'group';
      const codes = sub.keys().includes('codes') ? (sub.get('codes') as H5Dataset) : undefined;
      rows ||= codes?.metadata.shape?.[0] ?? 0;
    }
  }
  return { columns, rows };
}

/**
 * Legacy (anndata < 0.6) obs/var: one compound dataset, one member per column. Categoricals are
 * stored as integer codes with their labels in `uns/<column>_categories`, so an integer member with
 * such a companion is a `category`.
 */
function compoundColumns(
  ds: H5Dataset,
  categorical: Set<string>,
): { columns: Record<string, string>; rows: number } {
  const columns: Record<string, string> = {};
  for (const m of ds.metadata.compound_type?.members ?? []) {
    if (m.name === 'index') continue;
    const type = typeName({ metadata: { ...m, shape: [] } } as unknown as H5Dataset);
    columns[m.name as string] =
      categorical.has(m.name as string) && /^u?int\d+$/.test(type) ? 'category' : type;
  }
  return { columns, rows: ds.metadata.shape?.[0] ?? 0 };
}

/** Columns that anndata 0.5 stored as categoricals: the `<column>` of every `uns/<column>_categories`. */
function legacyCategoricals(file: H5File): Set<string> {
  const uns = file.keys().includes('uns') ? file.get('uns') : null;
  if (uns?.type !== 'Group') return new Set();
  return new Set(
    (uns as H5Group)
      .keys()
      .filter((k) => k.endsWith('_categories') && k.length > '_categories'.length)
      .map((k) => k.slice(0, -'_categories'.length)),
  );
}

function frame(file: H5File, name: 'obs' | 'var') {
  const e = file.get(name);
  if (!e) throw new AnnDataError(`no '${name}' in the file: not an AnnData file`);
  if (e.type === 'Dataset')
    return { ...compoundColumns(e as H5Dataset, legacyCategoricals(file)), legacy: true };
  return { ...frameColumns(e as H5Group), legacy: false };
}

/** Reads n_obs, n_vars and the obs/var columns of an `.h5ad` file. */
export async function readAnnDataFacts(path: string): Promise<AnnDataFacts> {
  let opened: Awaited<ReturnType<typeof openH5>>;
  try {
    opened = await openH5(path);
  } catch (err) {
    throw new AnnDataError((err as Error).message);
  }
  const { file } = opened;
  try {
    const obs = frame(file, 'obs');
    const vars = frame(file, 'var');
    const keys = file.keys();
    let nObs = obs.rows;
    let nVars = vars.rows;
    const x = keys.includes('X') ? file.get('X') : null;
    if (x?.type === 'Dataset') {
      const shape = (x as H5Dataset).metadata.shape ?? [];
      nObs = shape[0] ?? nObs;
      nVars = shape[1] ?? nVars;
    } else if (x?.type === 'Group') {
      const shape = attr(x, 'shape') ?? attr(x, 'h5sparse_shape');
      if (Array.isArray(shape) || ArrayBuffer.isView(shape)) {
        nObs = Number((shape as ArrayLike<number | bigint>)[0]);
        nVars = Number((shape as ArrayLike<number | bigint>)[1]);
      }
    }
    return {
      nObs,
      nVars,
      encoding: obs.legacy
        ? 'legacy-compound'
        : attr(file, 'encoding-type') === 'anndata'
          ? 'anndata'
          : 'legacy-groups',
      obs: obs.columns,
      var: vars.columns,
      hasX: x !== null,
    };
  } catch (err) {
    if (err instanceof AnnDataError) throw err;
    throw new AnnDataError(`not a readable AnnData file: ${(err as Error).message}`);
  } finally {
    try {
      file.close();
    } catch {
      // already unusable
    }
  }
}
