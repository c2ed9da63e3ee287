import { createHash } from 'node:crypto';
import type pg from 'pg';

const MAX = 63;

const hash8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

/** Lower-case `[a-z0-9_]`, runs of anything else collapsed to one `_`, no leading/trailing `_`. */
export function sanitise(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
}

/** Fits a name into Postgres's 63 bytes, replacing the cut part with a hash of the whole name. */
export function fitIdentifier(name: string): string {
  if (Buffer.byteLength(name) <= MAX) return name;
  return `${name.slice(0, MAX - 9)}_${hash8(name)}`;
}

/** The stem of an object key: its file name without the last extension. */
export function stemOf(key: string): string {
  const base = key.slice(key.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/** `job_<stem>` or `job_<stem>__<dataset path>`, sanitised and fitted. */
export function baseTableName(key: string, datasetPath = ''): string {
  const stem = sanitise(stemOf(key)) || 'file';
  const ds = sanitise(datasetPath);
  return fitIdentifier(ds ? `job_${stem}__${ds}` : `job_${stem}`);
}

/**
 * Sluice's own tables that share the `job_` prefix of user tables: the one place where that overlap is
 * listed. A user table never takes one of these names (`summaries.h5` gets `job_summaries_<hash>`).
 * A test reads every migration and fails if a `job_*` table is created that is not listed here.
 */
export const RESERVED_TABLE_NAMES: ReadonlySet<string> = new Set(['job_summaries']);

/** True when `name` is one of Sluice's own tables, so no user data may ever be written under it. */
export function isReservedTableName(name: string): boolean {
  return RESERVED_TABLE_NAMES.has(name);
}

/**
 * The names a (bucket, key, dataset) may take, in order of preference: `job_<stem>...` first, then
 * deterministic hash suffixes of the key. Reserved names are never among them.
 */
export function tableNameCandidates(ref: {
  bucket: string;
  key: string;
  datasetPath?: string;
}): string[] {
  const base = baseTableName(ref.key, ref.datasetPath ?? '');
  const all = [base, fitIdentifier(`${base}_${hash8(`${ref.bucket}/${ref.key}`)}`)];
  for (let i = 2; i < 100; i++)
    all.push(fitIdentifier(`${base}_${hash8(`${ref.bucket}/${ref.key}#${i}`)}`));
  return all.filter((name) => !isReservedTableName(name));
}

/**
 * Claims the table name for (bucket, key, dataset) in `ingest_table_names`. The first key to use a stem
 * gets `job_<stem>`; a different key with the same stem gets a deterministic suffix (a hash of its key),
 * so two files never overwrite each other and the same file always maps to the same table. A new claim
 * never takes a reserved name, nor the name of any relation that already exists without being claimed
 * (a Sluice table added later, or a table the lab made by hand), since publishing drops and renames
 * over the claimed name. Must run inside the publishing transaction.
 */
export async function claimTableName(
  client: pg.PoolClient,
  ref: { bucket: string; key: string; datasetPath?: string },
): Promise<string> {
  const datasetPath = ref.datasetPath ?? '';
  const existing = await client.query<{ table_name: string }>(
    'SELECT table_name FROM ingest_table_names WHERE bucket = $1 AND key = $2 AND dataset_path = $3',
    [ref.bucket, ref.key, datasetPath],
  );
  if (existing.rows[0]) return existing.rows[0].table_name;
  for (const name of tableNameCandidates(ref)) {
    const res = await client.query(
      `INSERT INTO ingest_table_names (table_name, bucket, key, dataset_path)
       SELECT $1, $2, $3, $4 WHERE to_regclass(quote_ident($1)) IS NULL
       ON CONFLICT DO NOTHING`,
      [name, ref.bucket, ref.key, datasetPath],
    );
    if (res.rowCount === 1) return name;
  }
  throw new Error(`no free table name for ${ref.key}`);
}
