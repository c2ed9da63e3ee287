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
 * Claims the table name for (bucket, key, dataset) in `ingest_table_names`. The first key to use a stem
 * gets `job_<stem>`; a different key with the same stem gets a deterministic suffix (a hash of its key),
 * so two files never overwrite each other and the same file always maps to the same table.
 * Must run inside the publishing transaction.
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
  const base = baseTableName(ref.key, datasetPath);
  const candidates = [base, fitIdentifier(`${base}_${hash8(`${ref.bucket}/${ref.key}`)}`)];
  for (let i = 2; i < 100; i++)
    candidates.push(fitIdentifier(`${base}_${hash8(`${ref.bucket}/${ref.key}#${i}`)}`));
  for (const name of candidates) {
    const res = await client.query(
      `INSERT INTO ingest_table_names (table_name, bucket, key, dataset_path) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING`,
      [name, ref.bucket, ref.key, datasetPath],
    );
    if (res.rowCount === 1) return name;
  }
  throw new Error(`no free table name for ${ref.key}`);
}
