import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  baseTableName,
  isReservedTableName,
  RESERVED_TABLE_NAMES,
  tableNameCandidates,
} from '../../shared/ingest/table-names.ts';

const IDENT = /^[a-z][a-z0-9_]*$/;

/** Keys as users and attackers write them: any Unicode, slashes, dots, and Sluice's own names. */
const hostileKey = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc
    .array(fc.string({ unit: 'grapheme', maxLength: 80 }), { maxLength: 6 })
    .map((p) => p.join('/')),
  fc
    .constantFrom(...RESERVED_TABLE_NAMES, 'summaries', 'SUMMARIES', 'Summaries ', 'summaries.')
    .chain((stem) =>
      fc
        .tuple(fc.constantFrom('', 'lab/', 'x/y/'), fc.constantFrom('.h5', '.hdf5', '', '.h5.h5'))
        .map(([dir, ext]) => `${dir}${stem.replace(/^job_/, '')}${ext}`),
    ),
);
const datasetPath = fc.oneof(fc.constant(''), fc.string({ unit: 'binary', maxLength: 120 }));

describe('table names for generated keys', () => {
  it('every candidate is a valid, unquoted-safe identifier of at most 63 bytes, never reserved', () => {
    fc.assert(
      fc.property(hostileKey, datasetPath, fc.string({ maxLength: 20 }), (key, ds, bucket) => {
        const names = tableNameCandidates({ bucket, key, datasetPath: ds });
        expect(names.length).toBeGreaterThan(90);
        const bad = names.filter(
          (n) =>
            !IDENT.test(n) ||
            !n.startsWith('job_') ||
            Buffer.byteLength(n) > 63 ||
            isReservedTableName(n),
        );
        expect(bad).toEqual([]);
        expect(new Set(names).size).toBe(names.length);
      }),
      { numRuns: 300 },
    );
  });

  it('the documented job_<stem> name is kept for ordinary keys', () => {
    expect(tableNameCandidates({ bucket: 'b', key: 'lab/run 1.h5' })[0]).toBe('job_run_1');
    expect(baseTableName('lab/summaries.h5')).toBe('job_summaries');
    const s = tableNameCandidates({ bucket: 'b', key: 'lab/summaries.h5' });
    expect(s[0]).toMatch(/^job_summaries_[0-9a-f]{8}$/);
    expect(
      tableNameCandidates({ bucket: 'b', key: 'lab/summaries.h5', datasetPath: '/x' })[0],
    ).toBe('job_summaries__x');
  });

  it('every job_* table the migrations create is listed as reserved', () => {
    const dir = new URL('../../shared/db/migrations/', import.meta.url);
    const created = readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .flatMap((f) =>
        [
          ...readFileSync(new URL(f, dir), 'utf8').matchAll(
            /CREATE\s+(?:UNLOGGED\s+)?(?:TABLE|VIEW|MATERIALIZED\s+VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?"?([A-Za-z0-9_]+)/gi,
          ),
        ].map((m) => (m[1] as string).toLowerCase()),
      );
    expect(created).toContain('job_summaries');
    for (const t of created.filter((n) => n.startsWith('job_')))
      expect(RESERVED_TABLE_NAMES).toContain(t);
  });
});
