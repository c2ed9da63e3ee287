import { copyEscape, floatText } from './copy-text.ts';
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

/**
 * Slurm writes "no value" as NO_VAL64 (2^64-2) or INFINITE64 (2^64-1), in a uint64 field or cast to a
 * double (about 1.8e19), and sometimes after scaling to KiB, MiB or GiB (GPUMemMB = 2^44-1). No real
 * reading of these fields (kHz, KiB, pages, MB, seconds, percent, watts, joules) comes near 2^63.
 */
const NO_VAL_SCALED = new Set([2 ** 54 - 1, 2 ** 44 - 1, 2 ** 34 - 1]);
export function isSlurmNoVal(v: number): boolean {
  return !Number.isFinite(v) || v >= 2 ** 63 || NO_VAL_SCALED.has(v);
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

/** Linear interpolation over interior gaps only: before the first and after the last sample stay empty. */
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
  return out;
}

/** One node of one step: the unit the original pipeline processed per top-level group. */
interface NodeSource {
  step: string | null;
  node: string;
  group: H5Group;
  path: string;
}

/** Energy figures of one node, or why there are none. */
type NodeEnergy =
  | { energyJ: number; peakPowerW: number; peakPowerTimeS: number; first: number; last: number }
  | { reason: string };

interface NodeTable extends NodeSource {
  times: number[];
  columns: Map<string, (number | undefined)[]>;
  power: (number | undefined)[];
  diff: number[];
  increment: (number | undefined)[];
  used: (number | undefined)[];
  energy: NodeEnergy;
}

const isGroup = (e: unknown): e is H5Group => (e as H5Group | null)?.type === 'Group';

/** True for the `sh5util -j` layout: /Steps/<step>/Nodes/<node>/... */
function isMergedJob(file: H5File): boolean {
  if (!file.keys().includes('Steps')) return false;
  const steps = file.get('Steps');
  if (!isGroup(steps)) return false;
  return steps.keys().some((s) => {
    const step = steps.get(s);
    return isGroup(step) && isGroup(step.get('Nodes'));
  });
}

/** The (step, node) groups of a file, in either layout; anything else is named in `skipped`. */
function nodeSources(file: H5File, skipped: Skipped[]): NodeSource[] {
  const out: NodeSource[] = [];
  if (!isMergedJob(file)) {
    for (const name of file.keys().sort()) {
      const g = file.get(name);
      if (isGroup(g)) out.push({ step: null, node: name, group: g, path: `/${name}` });
      else skipped.push({ path: `/${name}`, reason: 'not a node group' });
    }
    return out;
  }
  for (const name of file.keys().sort()) {
    if (name !== 'Steps')
      skipped.push({ path: `/${name}`, reason: 'outside /Steps in a job file' });
  }
  const steps = file.get('Steps') as H5Group;
  for (const step of steps.keys().sort()) {
    const stepGroup = steps.get(step);
    const nodes = isGroup(stepGroup) ? stepGroup.get('Nodes') : null;
    if (!isGroup(stepGroup) || !isGroup(nodes)) {
      skipped.push({ path: `/Steps/${step}`, reason: 'step has no Nodes group' });
      continue;
    }
    for (const other of stepGroup.keys().sort()) {
      if (other !== 'Nodes')
        skipped.push({ path: `/Steps/${step}/${other}`, reason: 'outside the Nodes group' });
    }
    for (const node of nodes.keys().sort()) {
      const path = `/Steps/${step}/Nodes/${node}`;
      const g = nodes.get(node);
      if (isGroup(g)) out.push({ step, node, group: g, path });
      else skipped.push({ path, reason: 'not a node group' });
    }
  }
  return out;
}

/** Joins a node's series on ElapsedTime and derives power and energy (see the README's profile section). */
function buildNode(h5: H5Instance, src: NodeSource, skipped: Skipped[]): NodeTable | undefined {
  const series = new Map<string, Map<number, number>>();
  const order: string[] = [];
  for (const item of walkDatasets(src.group, src.path)) {
    if (!('dataset' in item)) {
      skipped.push({ path: item.path, reason: item.skipped });
      continue;
    }
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
    const prefix = item.path.slice(src.path.length + 1).replaceAll('/', '_');
    for (const [field, values] of fields) {
      if (field === 'ElapsedTime') continue;
      const name = `${prefix}__${field}`;
      // A NO_VAL sample is no sample: the time stays a gap in this column, like any missing value.
      const m = new Map<number, number>();
      for (const [i, v] of values.entries()) if (!isSlurmNoVal(v)) m.set(elapsed[i] as number, v);
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
  return { ...src, times, columns, diff, ...deriveEnergy(src, order, columns, diff, skipped) };
}

const fieldOf = (column: string) => column.split('__')[1] ?? '';
const span = (v: (number | undefined)[]) => ({
  first: v.findIndex((x) => x !== undefined),
  last: v.findLastIndex((x) => x !== undefined),
});

/**
 * Power from the first power column that has a non-zero reading, else from a cumulative energy column.
 * Energy accrues only between the first and the last sample of that column: a row outside has no power,
 * no increment and no running total, so nothing is carried past the end of the data.
 */
function deriveEnergy(
  src: NodeSource,
  order: string[],
  columns: Map<string, (number | undefined)[]>,
  diff: number[],
  skipped: Skipped[],
): Pick<NodeTable, 'power' | 'increment' | 'used' | 'energy'> {
  const none = diff.map(() => undefined);
  let powerName: string | undefined;
  const powerColumns = order.filter((c) => /power$/i.test(fieldOf(c)));
  for (const n of powerColumns) {
    if ((columns.get(n) ?? []).some((v) => v !== undefined && v !== 0)) {
      powerName = n;
      break;
    }
    skipped.push({ path: `${src.path}/${n}`, reason: 'power column is all zero or missing' });
  }
  const energyName = order.find((n) => /(^|_)energy$/i.test(fieldOf(n)));
  const source = powerName ?? energyName;
  const values = source ? (columns.get(source) as (number | undefined)[]) : [];
  const { first, last } = span(values);
  if (!source || first < 0) {
    const reason = energyName
      ? 'the energy column has no readings'
      : powerColumns.length > 0
        ? 'every power column is all zero or missing'
        : 'no power or energy column found';
    return { power: none, increment: none, used: none, energy: { reason } };
  }
  const power: (number | undefined)[] = none.slice();
  const increment: (number | undefined)[] = none.slice();
  const used: (number | undefined)[] = none.slice();
  let total = 0;
  for (let i = first; i <= last; i++) {
    const d = diff[i] as number;
    if (powerName) {
      power[i] = values[i] as number;
      increment[i] = i === first ? 0 : (power[i] as number) * d;
      total += increment[i] as number;
      used[i] = total;
    } else {
      used[i] = values[i] as number;
      increment[i] = i === first ? 0 : (values[i] as number) - (values[i - 1] as number);
      power[i] = d > 0 && i > first ? (increment[i] as number) / d : 0;
    }
  }
  const energyJ = Math.max(...(used.filter((u) => u !== undefined) as number[]));
  const peak = peakOf(
    diff.map((_, i) => i),
    power,
  );
  return {
    power,
    increment,
    used,
    energy: { energyJ, peakPowerW: peak.value, peakPowerTimeS: peak.index, first, last },
  };
}

/** The largest value and the key of its first occurrence. */
function peakOf(keys: number[], values: (number | undefined)[]): { value: number; index: number } {
  let value = Number.NEGATIVE_INFINITY;
  let index = 0;
  for (const [i, v] of values.entries()) {
    if (v !== undefined && v > value) {
      value = v;
      index = keys[i] as number;
    }
  }
  return { value, index };
}

/** A node's power at time t: interpolated between its samples, 0 outside its measured span. */
function powerAt(n: NodeTable, t: number): number {
  if (!('energyJ' in n.energy)) return 0;
  const { first, last } = n.energy;
  const times = n.times;
  if (t < (times[first] as number) || t > (times[last] as number)) return 0;
  let lo = first;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((times[mid] as number) <= t) lo = mid;
    else hi = mid;
  }
  const t0 = times[lo] as number;
  const t1 = times[hi] as number;
  const p0 = n.power[lo] as number;
  const p1 = n.power[hi] as number;
  return t1 === t0 || t === t0 ? p0 : p0 + ((p1 - p0) * (t - t0)) / (t1 - t0);
}

const noEnergy = (energyReason: string) => ({
  energyJ: null,
  averagePowerW: null,
  peakPowerW: null,
  peakPowerTimeS: null,
  energyDelayProduct: null,
  energyReason,
});

function nodeSummary(n: NodeTable): ProfileSummary {
  const timeS = Math.max(...n.times);
  const base = { scope: 'node' as const, step: n.step, node: n.node, nodes: 1, timeS };
  const e = n.energy;
  if (!('energyJ' in e)) return { ...base, ...noEnergy(e.reason), rows: n.times.length };
  return {
    ...base,
    energyJ: e.energyJ,
    averagePowerW: timeS > 0 ? e.energyJ / timeS : null,
    peakPowerW: e.peakPowerW,
    peakPowerTimeS: n.times[e.peakPowerTimeS] as number,
    energyDelayProduct: e.energyJ * timeS,
    energyReason: null,
    rows: n.times.length,
  };
}

/**
 * One step's figures over its nodes: energy sums over nodes, time to solution is the longest node, peak
 * power is the peak of the nodes' summed power (each interpolated on the union of their sample times).
 * If any node has no energy data the step's energy is unknown rather than a partial sum.
 */
function stepSummary(step: string | null, nodes: NodeTable[]): ProfileSummary {
  const timeS = Math.max(...nodes.flatMap((n) => n.times));
  const base = {
    scope: 'job' as const,
    step,
    node: nodes.map((n) => n.node).join(','),
    nodes: nodes.length,
    timeS,
    rows: nodes.reduce((a, n) => a + n.times.length, 0),
  };
  const missing = nodes.filter((n) => !('energyJ' in n.energy));
  if (missing.length === nodes.length) {
    const reasons = [...new Set(missing.map((n) => (n.energy as { reason: string }).reason))];
    return { ...base, ...noEnergy(reasons.join('; ')) };
  }
  if (missing.length > 0)
    return {
      ...base,
      ...noEnergy(`no energy data for node ${missing.map((n) => n.node).join(', ')}`),
    };
  const energyJ = nodes.reduce((a, n) => a + (n.energy as { energyJ: number }).energyJ, 0);
  const grid = [
    ...new Set(
      nodes.flatMap((n) => {
        const { first, last } = n.energy as { first: number; last: number };
        return n.times.slice(first, last + 1);
      }),
    ),
  ].sort((a, b) => a - b);
  const peak = peakOf(
    grid,
    grid.map((t) => nodes.reduce((a, n) => a + powerAt(n, t), 0)),
  );
  return {
    ...base,
    energyJ,
    averagePowerW: timeS > 0 ? energyJ / timeS : null,
    peakPowerW: peak.value,
    peakPowerTimeS: peak.index,
    energyDelayProduct: energyJ * timeS,
    energyReason: null,
  };
}

/**
 * The `profile` pipeline: per (step, node), joins every series on ElapsedTime into one wide table,
 * derives NodePower, ElapsedTime_Diff, Energy_Increment_J and Energy_used_J, and summarises each node
 * and each step. Reads per-node files (/<node>/...) and `sh5util -j` job files (/Steps/<step>/Nodes/<node>).
 */
export function profilePipeline(h5: H5Instance, file: H5File): PipelineOutput {
  const skipped: Skipped[] = [];
  const nodes: NodeTable[] = [];
  for (const src of nodeSources(file, skipped)) {
    const t = buildNode(h5, src, skipped);
    if (t) nodes.push(t);
  }
  if (nodes.length === 0) throw new PermanentIngestError('profile file has no non-empty series');
  const seriesNames = [...new Set(nodes.flatMap((n) => [...n.columns.keys()]))];
  const columns = [
    { name: 'step', pgType: 'text' },
    { name: 'node', pgType: 'text' },
    { name: 'ElapsedTime', pgType: 'double precision' },
    ...seriesNames.map((name) => ({ name, pgType: 'double precision' })),
    { name: 'NodePower', pgType: 'double precision' },
    { name: 'ElapsedTime_Diff', pgType: 'double precision' },
    { name: 'Energy_Increment_J', pgType: 'double precision' },
    { name: 'Energy_used_J', pgType: 'double precision' },
  ];
  const rows = nodes.reduce((a, n) => a + n.times.length, 0);
  const steps = [...new Set(nodes.map((n) => n.step))];
  const summaries = steps.flatMap((step) => {
    const inStep = nodes.filter((n) => n.step === step);
    return [stepSummary(step, inStep), ...inStep.map(nodeSummary)];
  });
  const cell = (v: number | undefined) => (v === undefined ? '\\N' : floatText(v));
  const text = (v: string | null) => (v === null ? '\\N' : copyEscape(v));
  return {
    skipped,
    summaries,
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
                  text(n.step),
                  text(n.node),
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
