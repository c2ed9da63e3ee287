import { readdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventsApp } from '../../functions/events/app.ts';
import { minioBody, postEvent, putObject } from '../helpers/events.ts';
import { ensurePyTables, runPython } from '../helpers/h5py.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let db: pg.Client;
beforeAll(async () => {
  ensurePyTables();
  stack = await createTestStack();
  db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db.end();
  await stack.close();
});

interface Result {
  status: string;
  jobId?: number;
  tables?: string[];
  reason?: string;
}

async function ingest(file: string, key = `lab/${path.basename(file)}`): Promise<Result> {
  const etag = await putObject(stack, key, file);
  const res = await postEvent(createEventsApp(stack.services), minioBody(stack.bucket, key, etag));
  expect(res.status).toBe(200);
  return ((await res.json()) as { results: Result[] }).results[0] as Result;
}

/** Writes `name` in the scratch folder with a Python script (h5py as `h5py`, PyTables as `tables`). */
function write(name: string, script: string): string {
  const file = path.join(stack.tmp, name);
  runPython(`import sys, h5py, tables, numpy as np\nout = sys.argv[1]\n${script}`, [file]);
  return file;
}

const columnTypes = async (table: string) =>
  Object.fromEntries(
    (
      await db.query<{ column_name: string; data_type: string; udt_name: string }>(
        `SELECT column_name, data_type, udt_name FROM information_schema.columns
         WHERE table_name = $1 ORDER BY ordinal_position`,
        [table],
      )
    ).rows.map((c) => [
      c.column_name,
      c.data_type === 'ARRAY' ? `${c.udt_name.slice(1)}[]` : c.data_type,
    ]),
  );

const catalog = async (jobId: number | undefined) =>
  (
    await db.query<{
      dataset_path: string;
      table_name: string;
      skipped: { path: string; reason: string }[];
    }>(
      'SELECT dataset_path, table_name, skipped FROM ingest_catalog WHERE job_id = $1 ORDER BY dataset_path',
      [jobId],
    )
  ).rows;

describe('HDF5 strings and small types as PyTables and h5py write them', () => {
  it("PyTables VLUnicode arrays, big- and little-endian, are text ('paraŀlel')", async () => {
    // As PyTables' own test file vlunicode_endian.h5: one VLUnicode array per byte order.
    const file = write(
      'vlunicode_endian.h5',
      `with tables.open_file(out, 'w') as f:
    for name, order in (('vlunicode_big', 'big'), ('vlunicode_little', 'little')):
        a = f.create_vlarray('/', name, tables.VLUnicodeAtom(), byteorder=order)
        a.append('paraŀlel')
        a.append('Ωmega 𝄞')`,
    );
    const r = await ingest(file);
    expect(r.status).toBe('done');
    const table = r.tables?.[0] as string;
    expect(await columnTypes(table)).toEqual({ vlunicode_big: 'text', vlunicode_little: 'text' });
    expect((await db.query(`SELECT * FROM "${table}"`)).rows).toEqual([
      { vlunicode_big: 'paraŀlel', vlunicode_little: 'paraŀlel' },
      { vlunicode_big: 'Ωmega 𝄞', vlunicode_little: 'Ωmega 𝄞' },
    ]);
  });

  it('vlen sequences of fixed-length strings are text[], numeric-looking or not', async () => {
    const file = write(
      'vlstrings.h5',
      `with tables.open_file(out, 'w') as f:
    a = f.create_vlarray('/', 'codes', tables.StringAtom(itemsize=4))
    a.append([b'5', b'66'])
    a.append(np.array(['007', '1e3'], dtype='S4'))
    a.append([b'abc', b'x y', b'\\xb5m'])
    a.append([])`,
    );
    const r = await ingest(file);
    expect(r.status).toBe('done');
    const table = r.tables?.[0] as string;
    expect(await columnTypes(table)).toEqual({ value: 'text[]' });
    expect((await db.query(`SELECT value FROM "${table}"`)).rows.map((x) => x.value)).toEqual([
      ['5', '66'],
      ['007', '1e3'],
      ['abc', 'x y', 'µm'],
      [],
    ]);
  });

  it('ASCII-charset strings are UTF-8 when valid, else Latin-1, never U+FFFD', async () => {
    const file = write(
      'units.h5',
      `with h5py.File(out, 'w') as f:
    raw = [b'\\xb5m', 'Ångström'.encode('utf-8'), 'Ångström'.encode('latin-1'), b'plain']
    f.create_dataset('fixed', data=np.array(raw, dtype='S12'))
    f.create_dataset('vlen', data=np.array(raw, dtype=object), dtype=h5py.string_dtype('ascii'))
    c = np.zeros(4, dtype=[('unit', 'S12'), ('n', '<i4')])
    c['unit'] = raw
    c['n'] = range(4)
    f.create_dataset('tbl', data=c)`,
    );
    const r = await ingest(file);
    expect(r.status).toBe('done');
    const want = ['µm', 'Ångström', 'Ångström', 'plain'];
    const cols = (await db.query('SELECT fixed, vlen FROM job_units')).rows;
    expect(cols.map((x) => x.fixed)).toEqual(want);
    expect(cols.map((x) => x.vlen)).toEqual(want);
    const tbl = await db.query('SELECT unit FROM job_units__tbl ORDER BY n');
    expect(tbl.rows.map((x) => x.unit)).toEqual(want);
  });

  it('wider-than-bool bitfields are integers; PyTables bools are booleans', async () => {
    const bits = write(
      'bits.h5',
      `with h5py.File(out, 'w') as f:
    for name, tid, data in (('b8', h5py.h5t.STD_B8LE, np.array([0, 1, 2, 5, 255], 'u1')),
                            ('b16be', h5py.h5t.STD_B16BE, np.array([0, 1, 2, 5, 65535], '>u2'))):
        ds = h5py.h5d.create(f.id, name.encode(), tid, h5py.h5s.create_simple((5,)))
        ds.write(h5py.h5s.ALL, h5py.h5s.ALL, data, mtype=tid)`,
    );
    const b = await ingest(bits);
    expect(b.status).toBe('done');
    expect(await columnTypes('job_bits')).toEqual({ b16be: 'integer', b8: 'smallint' });
    expect((await db.query('SELECT b8, b16be FROM job_bits')).rows).toEqual([
      { b8: 0, b16be: 0 },
      { b8: 1, b16be: 1 },
      { b8: 2, b16be: 2 },
      { b8: 5, b16be: 5 },
      { b8: 255, b16be: 65535 },
    ]);
    const pt = write(
      'ptbool.h5',
      `class R(tables.IsDescription):
    ok = tables.BoolCol()
    n = tables.Int32Col()
with tables.open_file(out, 'w') as f:
    f.create_array('/', 'flags', np.array([True, False, True]))
    t = f.create_table('/', 't', R)
    for i in range(3):
        t.row['ok'] = i != 1
        t.row['n'] = i
        t.row.append()
    t.flush()`,
    );
    const p = await ingest(pt);
    expect(p.status).toBe('done');
    expect((await db.query('SELECT value FROM job_ptbool__flags')).rows).toEqual([
      { value: true },
      { value: false },
      { value: true },
    ]);
    expect(
      (await db.query('SELECT ok FROM job_ptbool__t ORDER BY n')).rows.map((x) => x.ok),
    ).toEqual([true, false, true]);
  });

  it("a single-table file's catalog row records the dataset's own path", async () => {
    const file = write(
      'onetable.h5',
      `with h5py.File(out, 'w') as f:
    f.create_dataset('data/readings', data=np.arange(5, dtype='<f8'))`,
    );
    const r = await ingest(file);
    expect(r.tables).toEqual(['job_onetable']);
    expect((await catalog(r.jobId)).map((c) => c.dataset_path)).toEqual(['/data/readings']);
    const job = await db.query('SELECT tables FROM ingest_jobs WHERE id = $1', [r.jobId]);
    expect(job.rows[0].tables[0].datasetPath).toBe('/data/readings');
  });

  it('a vlen member of a compound is skipped by name; the other members load', async () => {
    const file = write(
      'mixed.h5',
      `dt = np.dtype([('a', '<i4'), ('label', h5py.string_dtype()), ('b', '<f8'), ('seq', h5py.vlen_dtype('<i4'))])
c = np.zeros(3, dtype=dt)
c['a'] = [1, 2, 3]
c['label'] = ['x', 'yy', 'zzz']
c['b'] = [0.5, 1.5, 2.5]
for i in range(3):
    c['seq'][i] = np.arange(i, dtype='<i4')
with h5py.File(out, 'w') as f:
    f.create_dataset('tbl', data=c)`,
    );
    const r = await ingest(file);
    expect(r.status).toBe('done');
    expect((await db.query('SELECT * FROM job_mixed ORDER BY a')).rows).toEqual([
      { a: 1, b: 0.5 },
      { a: 2, b: 1.5 },
      { a: 3, b: 2.5 },
    ]);
    const skipped = (await catalog(r.jobId))[0]?.skipped ?? [];
    expect(skipped.map((s) => s.path)).toEqual(['/tbl', '/tbl']);
    expect(skipped.map((s) => s.reason).join('; ')).toMatch(/member 'label'.*member 'seq'/);
  });
});

describe('variable-length data read in slices', () => {
  it('150,000 vlen strings and compound rows with a vlen member load whole, across chunks', async () => {
    const file = write(
      'many.h5',
      `n = 150000
dt = np.dtype([('i', '<i8'), ('s', h5py.string_dtype())])
c = np.zeros(n, dtype=dt)
c['i'] = np.arange(n)
c['s'] = [f'row {i}' for i in range(n)]
with h5py.File(out, 'w') as f:
    f.create_dataset('names', data=np.array([f'n{i}' * (i % 7) for i in range(n)], dtype=object),
                     dtype=h5py.string_dtype(), chunks=(4096,))
    f.create_dataset('tbl', data=c, chunks=(4096,))`,
    );
    const r = await ingest(file);
    expect(r.status, r.reason).toBe('done');
    const names = await db.query(
      `SELECT count(*)::int AS n, sum(length(value))::int AS chars,
              min(value) FILTER (WHERE value <> '') AS first FROM job_many__names`,
    );
    // sum over i of len('n<i>') * (i % 7), computed the same way in SQL.
    const want = await db.query(
      `SELECT sum(length('n' || i) * (i % 7))::int AS chars FROM generate_series(0, 149999) AS i`,
    );
    expect(names.rows[0]).toMatchObject({ n: 150000, chars: want.rows[0].chars, first: 'n1' });
    const tbl = await db.query('SELECT count(*)::int AS n, sum(i)::bigint AS s FROM job_many__tbl');
    expect([tbl.rows[0].n, Number(tbl.rows[0].s)]).toEqual([150000, (149999 * 150000) / 2]);
  });
});

describe('every HDF5 and h5ad fixture through the tables pipeline', () => {
  // The only fixtures with nothing tabular; each must fail with a reason that says why.
  const NEGATIVE: Record<string, RegExp> = {
    'pytables_times-nested-be.h5': /no tabular data: .*H5T_TIME data is not supported/,
    'pytables_vlstr_attr.h5': /no tabular data: the file holds no datasets/,
  };
  const fixtures = ['hdf5', 'h5ad'].flatMap((dir) =>
    readdirSync(path.join('test/fixtures', dir)).map((f) => path.join('test/fixtures', dir, f)),
  );

  it.each(fixtures)('%s', async (file) => {
    const r = await ingest(file, `sweep/${path.basename(file).replace(/\W/g, '_')}.h5`);
    const negative = NEGATIVE[path.basename(file)];
    if (negative) {
      expect(r.status).toBe('failed');
      expect(r.reason).toMatch(negative);
      return;
    }
    expect(r.status, r.reason).toBe('done');
    const rows = await catalog(r.jobId);
    expect(rows.length).toBeGreaterThan(0);
    for (const c of rows) {
      expect(c.dataset_path.startsWith('/')).toBe(true);
      const n = await db.query(`SELECT count(*)::int AS n FROM "${c.table_name}"`);
      const want = await db.query('SELECT rows::int FROM ingest_catalog WHERE table_name = $1', [
        c.table_name,
      ]);
      expect(n.rows[0].n).toBe(want.rows[0].rows);
    }
  });
});
