import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config/load.ts';
import { DEFAULT_PIPELINE, PIPELINE_NAMES, pipelines } from '../../shared/ingest/pipelines.ts';

const withRules = async (rules: string) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-pipelines-'));
  const file = path.join(dir, 'sluice.toml');
  await writeFile(file, `[ingest.pipelines]\n${rules}\n`);
  return () => parseConfig({ JWT_SECRET: 'x', SLUICE_CONFIG: file });
};

describe('the pipeline registry', () => {
  it('is where the config rules take their names from', async () => {
    expect(PIPELINE_NAMES).toEqual(Object.keys(pipelines));
    expect(PIPELINE_NAMES).toContain(DEFAULT_PIPELINE);
    const lines = PIPELINE_NAMES.map((n, i) => `"runs/${i}/" = "${n}"`).join('\n');
    const config = (await withRules(lines))();
    expect(Object.values(config.events.pipelines)).toEqual(PIPELINE_NAMES);
  });

  it('refuses a rule naming a pipeline that is not registered, naming the rule', async () => {
    const load = await withRules('"runs/" = "spectra"');
    expect(load).toThrow(/pipelines/);
    expect(load).toThrow(/profile|tables/);
  });

  it('the default pipeline claims by default, so it has no detect of its own', () => {
    expect('detect' in pipelines[DEFAULT_PIPELINE]).toBe(false);
  });
});
