import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventsApp } from '../../functions/events/app.ts';
import { minioBody, postEvent, putObject } from '../helpers/events.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let app: ReturnType<typeof createEventsApp>;
let db: pg.Client;

beforeAll(async () => {
  stack = await createTestStack();
  app = createEventsApp(stack.services);
  db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db.end();
  await stack.close();
});

interface Result {
  status: string;
  results: { status: string; jobId?: number; tables?: string[]; rows?: number; reason?: string }[];
}

async function ingest(fixture: string, key = `lab/${fixture.split('/').pop()}`) {
  const etag = await putObject(stack, key, `test/fixtures/${fixture}`);
  const res = await postEvent(app, minioBody(stack.bucket, key, etag));
  const body = (await res.json()) as Result;
  return { res, body, result: body.results[0] };
}

async function columns(table: string) {
  const r = await db.query<{ column_name: string; data_type: string; udt_name: string }>(
    `SELECT column_name, data_type, udt_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return Object.fromEntries(
    r.rows.map((c) => [
      c.column_name,
      c.data_type === 'ARRAY' ? `${c.udt_name.slice(1)}[]` : c.data_type,
    ]),
  );
}

const count = async (table: string) =>
  (await db.query(`SELECT count(*)::int AS n FROM "${table}"`)).rows[0].n as number;

describe('every HDF5 fixture ingests with the right rows and types, or fails with a reason', () => {
  it('compound table with gzip (PyTables ex-noattr): two tables, right types and values', async () => {
    const { res, result } = await ingest('hdf5/pytables_ex-noattr.h5');
    expect(res.status).toBe(200);
    expect(result?.status).toBe('done');
    expect(result?.tables).toEqual(
      expect.arrayContaining([
        'job_pytables_ex_noattr__columns',
        'job_pytables_ex_noattr__detector_table',
        'job_pytables_ex_noattr__columns_pressure',
      ]),
    );
    expect(await count('job_pytables_ex_noattr__detector_table')).toBe(15);
    expect(await columns('job_pytables_ex_noattr__detector_table')).toEqual({
      ADCcount: 'smallint',
      TDCcount: 'smallint',
      grid_i: 'integer',
      grid_j: 'integer',
      idnumber: 'bigint',
      name: 'text',
      pressure: 'real',
      temperature: 'double precision',
    });
    const row = await db.query(
      `SELECT * FROM job_pytables_ex_noattr__detector_table ORDER BY "TDCcount" LIMIT 2 OFFSET 1`,
    );
    expect(row.rows[0]).toMatchObject({
      ADCcount: 256,
      TDCcount: 1,
      grid_i: 1,
      grid_j: 9,
      name: 'Particle:      1',
    });
    // Column-per-dataset group: TDC and name are 10 long and become one table.
    expect(await count('job_pytables_ex_noattr__columns')).toBe(10);
    expect(await columns('job_pytables_ex_noattr__columns')).toEqual({
      TDC: 'integer',
      name: 'text',
    });
    const pressure = await db.query('SELECT value FROM job_pytables_ex_noattr__columns_pressure');
    expect(pressure.rows[0].value).toEqual([0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
  });

  it('big-endian compound with array members (smpl_compound_chunked)', async () => {
    const { result } = await ingest('hdf5/pytables_smpl_compound_chunked.h5');
    expect(result?.tables).toEqual(['job_pytables_smpl_compound_chunked']);
    expect(await columns('job_pytables_smpl_compound_chunked')).toMatchObject({
      a_name: 'integer',
      c_name: 'text',
      d_name: 'int2[]',
      f_name: 'float8[]',
      g_name: 'smallint',
    });
    const r = await db.query(
      'SELECT a_name, c_name, d_name, e_name, f_name FROM job_pytables_smpl_compound_chunked ORDER BY a_name',
    );
    expect(r.rows).toHaveLength(6);
    expect(r.rows[1].a_name).toBe(1);
    expect(r.rows[1].c_name).toBe('Hello!');
    expect(r.rows[1].d_name[0]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(r.rows[1].e_name).toBeCloseTo(0.96, 5);
    expect(r.rows[1].f_name[0]).toBeCloseTo(1024.9637, 3);
  });

  it('uniformly big-endian contiguous compound with a space in its name', async () => {
    const { result } = await ingest('hdf5/pytables_non-chunked-table.h5');
    const table = result?.tables?.[0] as string;
    const r = await db.query(`SELECT * FROM "${table}"`);
    expect(r.rows).toEqual([{ a: 3, b: 4, c: [2, 3], d: 'd' }]);
  });

  it('nested compound with padding gaps flattens members with __', async () => {
    const { result } = await ingest('hdf5/pytables_nested-type-with-gaps.h5');
    const table = result?.tables?.[0] as string;
    expect(await count(table)).toBe(20);
    expect(await columns(table)).toEqual({
      float: 'real',
      compound__char: 'smallint',
      compound__double: 'double precision',
    });
  });

  it('enum becomes text labels; bool enum becomes boolean; big-endian floats are read right', async () => {
    const e = await ingest('hdf5/pytables_smpl_enum.h5');
    const labels = await db.query(`SELECT value FROM "${e.result?.tables?.[0]}"`);
    expect(labels.rows.map((r) => r.value).slice(0, 3)).toEqual(['RED', 'GREEN', 'BLUE']);
    const a = await ingest('hdf5/h5wasm_array.h5');
    expect(a.result?.status).toBe('done');
    const be = await db.query('SELECT value FROM job_h5wasm_array__bigendian');
    expect(be.rows.map((r) => r.value)).toEqual([3, 2, 1]);
    expect(await columns('job_h5wasm_array__bool')).toEqual({ col_0: 'boolean', col_1: 'boolean' });
    const cat = await db.query(
      `SELECT dataset_path, skipped FROM ingest_catalog WHERE job_id = $1 ORDER BY dataset_path`,
      [a.result?.jobId],
    );
    expect(JSON.stringify(cat.rows)).toContain('3-D datasets are not tabular');
  });

  it('PyTables tables with zero rows give empty tables; index groups are skipped', async () => {
    const { result } = await ingest('hdf5/pytables_python3.h5');
    expect(result?.status).toBe('done');
    expect(await count('job_pytables_python3__atable')).toBe(0);
    expect(await count('job_pytables_python3__agroup_atable2')).toBe(1);
    const idx = await ingest('hdf5/pytables_indexes_2_1.h5');
    expect(idx.result?.tables).toEqual([
      'job_pytables_indexes_2_1__table1',
      'job_pytables_indexes_2_1__table2',
    ]);
    expect(await count('job_pytables_indexes_2_1__table1')).toBe(21);
    expect(await columns('job_pytables_indexes_2_1__table1')).toEqual({
      var1: 'text',
      var2: 'boolean',
      var3: 'integer',
      var4: 'double precision',
    });
  });

  it('pandas HDFStore table (DLC2Kinematics): 800 rows with a float array column', async () => {
    const { result } = await ingest('hdf5/dlc2kinematics_reachingDEMO_2D.h5');
    expect(result?.tables).toEqual(['job_dlc2kinematics_reachingdemo_2d']);
    expect(await count('job_dlc2kinematics_reachingdemo_2d')).toBe(800);
    const r = await db.query(
      'SELECT array_length(values_block_0, 1) AS n FROM job_dlc2kinematics_reachingdemo_2d LIMIT 1',
    );
    expect(r.rows[0].n).toBe(99);
  });

  it('compressed 2-D arrays (gzip, shuffle, scale-offset, szip) and Blosc via plugins', async () => {
    const { result } = await ingest('hdf5/h5wasm_compressed.h5');
    expect(result?.tables).toHaveLength(4);
    expect(await count('job_h5wasm_compressed__gzip')).toBe(100);
    expect(Object.keys(await columns('job_h5wasm_compressed__szip'))).toHaveLength(100);
    const blosc = await ingest('hdf5/pytables_blosc_bigendian.h5');
    expect(blosc.result?.status).toBe('done');
    const r = await db.query(`SELECT * FROM "${blosc.result?.tables?.[0]}" ORDER BY i8`);
    expect(r.rows.map((x) => Number(x.i8))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('variable-length data: ragged sequences become arrays, vlen strings text', async () => {
    const v = await ingest('hdf5/h5wasm_vlen.h5');
    const seq = await db.query('SELECT value FROM job_h5wasm_vlen__float32_oned');
    expect(seq.rows.map((r) => r.value)).toEqual([[0], [0, 1], [0, 1, 2]]);
    expect(v.result?.status).toBe('done');
    const s = await ingest('hdf5/pytables_scalar.h5');
    const str = await db.query(`SELECT value FROM "${s.result?.tables?.[0]}"`);
    expect(str.rows).toEqual([{ value: 'Some string' }]);
  });

  it('null-dataspace dataset gives an empty table; files without datasets fail with a reason', async () => {
    const empty = await ingest('hdf5/h5wasm_empty.h5');
    expect(empty.result?.status).toBe('done');
    expect(await count('job_h5wasm_empty')).toBe(0);
    const attrsOnly = await ingest('hdf5/pytables_vlstr_attr.h5');
    expect(attrsOnly.res.status).toBe(200);
    expect(attrsOnly.result?.status).toBe('failed');
    expect(attrsOnly.result?.reason).toContain('no tabular data');
  });

  it('NEGATIVE: H5T_TIME data fails with a reason naming the type, answered 2xx', async () => {
    const { res, result } = await ingest('hdf5/pytables_times-nested-be.h5');
    expect(res.status).toBe(200);
    expect(result?.status).toBe('failed');
    expect(result?.reason).toContain('H5T_TIME');
  });

  it('fixed-length strings, itemsize, out-of-order types', async () => {
    const a = await ingest('hdf5/pytables_itemsize.h5');
    expect(await count(a.result?.tables?.[0] as string)).toBe(3);
    const b = await ingest('hdf5/pytables_out_of_order_types.h5');
    const r = await db.query(`SELECT * FROM "${b.result?.tables?.[0]}"`);
    expect(Object.keys(r.rows[0])).toEqual(['test_5', 'test_10', 'test_15']);
    const c = await ingest('hdf5/pytables_flavored_vlarrays-format1.6.h5');
    expect(c.result?.status).toBe('done');
    const d = await ingest('hdf5/pytables_smpl_SDSextendible.h5');
    expect(await columns(d.result?.tables?.[0] as string)).toEqual({
      col_0: 'integer',
      col_1: 'integer',
      col_2: 'integer',
      col_3: 'integer',
      col_4: 'integer',
    });
  });
});

describe('AnnData (.h5ad) files through the tables pipeline', () => {
  it('modern, 0.7 (LZF) and legacy encodings ingest with their obs/var tables', async () => {
    const modern = await ingest('h5ad/anndata_v0.11.4_adata.h5ad', 'lab/modern.h5');
    expect(modern.result?.status).toBe('done');
    expect(await count('job_modern__obs_index')).toBe(10);
    expect(await count('job_modern__var_index')).toBe(20);
    const lzf = await ingest('h5ad/anndata_v0.7.8_adata.h5ad', 'lab/v078.h5');
    expect(lzf.result?.status).toBe('done');
    expect(await count('job_v078__obs')).toBe(30);
    expect(await columns('job_v078__obs')).toMatchObject({
      _index: 'text',
      float64: 'double precision',
      int64: 'bigint',
      uint8: 'smallint',
    });
    const legacy = await ingest('h5ad/anndata_v0.5.0_adata.h5ad', 'lab/legacy.h5');
    expect(legacy.result?.status).toBe('done');
    expect(await count('job_legacy__obs')).toBe(700);
    expect(Object.keys(await columns('job_legacy__x'))).toHaveLength(765);
  });
});
