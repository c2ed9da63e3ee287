// One preview build in its own process, so the bench can report that process's peak RSS.
import { readFileSync } from 'node:fs';
import { buildPreview } from '../../functions/datasets/preview-builder.ts';

const [source, out] = process.argv.slice(2) as [string, string];
const t0 = performance.now();
const summary = await buildPreview(source, out);
const seconds = (performance.now() - t0) / 1000;
// VmHWM is the process's peak resident set (the kernel's own count, not a sample).
const status = readFileSync('/proc/self/status', 'utf8');
const peakRssMb = Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
process.stdout.write(`${JSON.stringify({ seconds, peakRssMb, levels: summary.levels.length })}\n`);
