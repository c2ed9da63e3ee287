import { floatText } from './copy-text.ts';
import {
  type H5Dataset,
  type H5File,
  type H5Group,
  type H5Instance,
  readRawRows,
  walkDatasets,
} from './h5-file.ts';
import { fieldColumns, H5T } from './h5-types.ts';
import { PermanentIngestError, type PipelineOutput, type ProfileSummary } from './pipeline.ts';
import type { Skipped } from './tabular-source.ts';

/** Datasets written by Slurm's acct_gather_profile: compound packet tables led by ElapsedTime, EpochTime. */
function isProfileDataset(ds: H5Dataset): boolean {
  const members = ds.metadata.compound_type?.members;
  return (
    ds.metadata.type === H5T.COMPOUND &&
    members?.[0]?.name === 'ElapsedTime' &&
    members?.[1]?.name === 'EpochTime'
  );
}

/** True when every top-level entry is a group and at least one holds a profile dataset. */
export function looksLikeProfile(file: H5File): boolean {
  let found = false;
  for (const name of file.keys()) {
    const child = file.get(name);
    if (child?.type !== 'Group') return false;
    for (const item of walkDatasets(child as H5Group, `/${name}`)) {
      if ('dataset' in item && isProfileDataset(item.dataset)) found = true;
    }
  }
  return found;
}

/** Reads every numeric field of a profile dataset as numbers, keyed by field name. */
function readSeries(h5: H5Instance, ds: H5Dataset): Map<string, number[]> {
  const rows = ds.metadata.shape?.[0] ?? 0;
  const cols = fieldColumns(ds.metadata, '').filter(
    (c) => c.pgType !== 'text' && !c.pgType.endsWith('[]'),
  );
  const out = new Map<string, number[]>(cols.map((c) => [c.name, new Array<number>(rows)]));
  if (rows === 0) return out;
  const bytes = readRawRows(h5, ds, 0, rows);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let r = 0; r < rows; r++) {
    for (const c of cols)
      (out.get(c.name) as number[])[r] = Number(c.encode(view, r * ds.metadata.size + c.offset));
  }
  return out;
}

/** Linear interpolation over interior gaps; trailing gaps carry the last value; leading stay empty. */
function interpolate(times: number[], values: (number | undefined)[]): (number | undefined)[] {
  const out = values.slice();
  let prev = -1;
  for (let i = 0; i < out.length; i++) {
    if (out[i] === undefined) continue;
    if (prev >= 0 && i - prev > 1) {
      const t0 = times[prev] as number;
      const t1 = times[i] as number;
      const v0 = out[prev] as number;
      const v1 = out[i] as number;
      for (let j = prev + 1; j < i; j++)
        out[j] = v0 + ((v1 - v0) * ((times[j] as number) - t0)) / (t1 - t0);
    }
    prev = i;
  }
  if (prev >= 0) for (let j = prev + 1; j < out.length; j++) out[j] = out[prev];
  return out;
}

interface NodeTable {
  node: string;
  times: number[];
  columns: Map<string, (number | undefined)[]>;
  power: number[];
  diff: number[];
  increment: number[];
  used: number[];
}

function buildNode(
  h5: H5Instance,
  node: string,
  group: H5Group,
  skipped: Skipped[],
): NodeTable | undefined {
  const series = new Map<string, Map<number, number>>();
  const order: string[] = [];
  for (const item of walkDatasets(group, `/${node}`)) {
    if (!('dataset' in item)) continue;
    if (!isProfileDataset(item.dataset)) {
      skipped.push({
        path: item.path,
        reason: 'not a profile series (no ElapsedTime/EpochTime members)',
      });
      continue;
    }
    const fields = readSeries(h5, item.dataset);
    const elapsed = fields.get('ElapsedTime') ?? [];
    if (elapsed.length === 0) {
      skipped.push({ path: item.path, reason: 'dataset has no rows' });
      continue;
    }
    const prefix = item.path.slice(node.length + 2).replaceAll('/', '_');
    for (const [field, values] of fields) {
      if (field === 'ElapsedTime') continue;
      const name = `${prefix}__${field}`;
      const m = new Map<number, number>();
      for (const [i, v] of values.entries()) m.set(elapsed[i] as number, v);
      series.set(name, m);
      order.push(name);
      if (field === 'RSS') {
        const mb = new Map<number, number>();
        for (const [t, v] of m) mb.set(t, v / 1024);
        series.set(`${prefix}__RSS_MB`, mb);
        order.push(`${prefix}__RSS_MB`);
      }
    }
  }
  if (series.size === 0) return undefined;
  const times = [...new Set([...series.values()].flatMap((m) => [...m.keys()]))].sort(
    (a, b) => a - b,
  );
  const columns = new Map<string, (number | undefined)[]>();
  for (const name of order) {
    const m = series.get(name) as Map<number, number>;
    columns.set(
      name,
      interpolate(
        times,
        times.map((t) => m.get(t)),
      ),
    );
  }
  const diff = times.map((t, i) => (i === 0 ? 0 : t - (times[i - 1] as number)));
  // Power: the first power column that is not all zero; otherwise derive it from cumulative energy.
  const powerCols = order.filter((n) => /power$/i.test(n.split('__')[1] ?? ''));
  let powerName: string | undefined;
  for (const n of powerCols) {
    if ((columns.get(n) ?? []).some((v) => v !== undefined && v !== 0)) {
      powerName = n;
      break;
    }
    skipped.push({ path: `/${node}/${n}`, reason: 'power column is all zero' });
  }
  let power: number[];
  let increment: number[];
  let used: number[];
  if (powerName) {
    power = (columns.get(powerName) as (number | undefined)[]).map((v) => v ?? 0);
    increment = power.map((p, i) => p * (diff[i] as number));
    let sum = 0;
    used = increment.map((x) => {
      sum += x;
      return sum;
    });
  } else {
    const energyName = order.find((n) => /(^|_)energy$/i.test(n.split('__')[1] ?? ''));
    if (!energyName) {
      power = times.map(() => 0);
      increment = times.map(() => 0);
      used = times.map(() => 0);
    } else {
      used = (columns.get(energyName) as (number | undefined)[]).map((v) => v ?? 0);
      increment = used.map((u, i) => (i === 0 ? 0 : u - (used[i - 1] as number)));
      power = increment.map((x, i) => ((diff[i] as number) > 0 ? x / (diff[i] as number) : 0));
    }
  }
  return { node, times, columns, power, diff, increment, used };
}

/**
 * The `profile` pipeline: per node, joins every series on ElapsedTime into one wide table, derives
 * NodePower, ElapsedTime_Diff, Energy_Increment_J and Energy_used_J, and summarises the job's energy.
 */
export function profilePipeline(h5: H5Instance, file: H5File): PipelineOutput {
  const skipped: Skipped[] = [];
  const nodes: NodeTable[] = [];
  for (const name of file.keys().sort()) {
    const t = buildNode(h5, name, file.get(name) as H5Group, skipped);
    if (t) nodes.push(t);
  }
  if (nodes.length === 0) throw new PermanentIngestError('profile file has no non-empty series');
  const seriesNames = [...new Set(nodes.flatMap((n) => [...n.columns.keys()]))];
  const columns = [
    { name: 'node', pgType: 'text' },
    { name: 'ElapsedTime', pgType: 'double precision' },
    ...seriesNames.map((name) => ({ name, pgType: 'double precision' })),
    { name: 'NodePower', pgType: 'double precision' },
    { name: 'ElapsedTime_Diff', pgType: 'double precision' },
    { name: 'Energy_Increment_J', pgType: 'double precision' },
    { name: 'Energy_used_J', pgType: 'double precision' },
  ];
  const rows = nodes.reduce((a, n) => a + n.times.length, 0);

  // Job figures: energy sums over nodes; power peaks are of the summed power at each time.
  const energyJ = nodes.reduce((a, n) => a + Math.max(0, ...n.used), 0);
  const timeS = Math.max(...nodes.flatMap((n) => n.times));
  const powerAt = new Map<number, number>();
  for (const n of nodes) {
    for (const [i, t] of n.times.entries())
      powerAt.set(t, (powerAt.get(t) ?? 0) + (n.power[i] as number));
  }
  let peakPowerW = 0;
  let peakPowerTimeS = 0;
  for (const [t, p] of [...powerAt.entries()].sort((a, b) => a[0] - b[0])) {
    if (p > peakPowerW) {
      peakPowerW = p;
      peakPowerTimeS = t;
    }
  }
  const summary: ProfileSummary = {
    node: nodes.map((n) => n.node).join(','),
    energyJ,
    timeS,
    averagePowerW: timeS > 0 ? energyJ / timeS : 0,
    peakPowerW,
    peakPowerTimeS,
    energyDelayProduct: energyJ * timeS,
    rows,
  };
  const cell = (v: number | undefined) => (v === undefined ? '\\N' : floatText(v));
  return {
    pipeline: 'profile',
    skipped,
    summary,
    tables: [
      {
        datasetPath: '',
        columns,
        rows,
        async write(sink) {
          for (const n of nodes) {
            const lines: string[] = [];
            n.times.forEach((t, i) => {
              const values = seriesNames.map((s) => cell(n.columns.get(s)?.[i]));
              lines.push(
                [
                  n.node,
                  floatText(t),
                  ...values,
                  cell(n.power[i]),
                  cell(n.diff[i]),
                  cell(n.increment[i]),
                  cell(n.used[i]),
                ].join('\t'),
              );
            });
            if (lines.length) await sink(`${lines.join('\n')}\n`);
          }
        },
      },
    ],
  };
}
