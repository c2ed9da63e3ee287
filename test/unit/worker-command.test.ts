import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commandArgv, commandEnv, parseCommand } from '../../infra/worker/command.ts';

/** File names built from what shells treat as syntax, plus anything else fast-check generates. */
const hostileName = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '$(touch pwned)',
        '`touch pwned`',
        ';',
        '&&',
        '|',
        "'",
        '"',
        '\n',
        '-',
        '--',
        ' ',
        '$HOME',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, as a file name
        '${IFS}',
        '*',
        '?',
        '~',
        '\\',
        '#',
        '>',
        '<',
        '{input}',
        '{output_dir}',
      ),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }),
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((parts) => parts.join('').replaceAll('\0', '').replaceAll('/', '_'))
  .filter((n) => n.length > 0);

const values = (dir: string, name: string, out = 'out') => ({
  input: path.join(dir, name),
  outputDir: path.join(dir, out),
  jobId: 7,
  kind: 'train',
  params: { n: 1 },
});

describe('worker --exec argv construction', () => {
  const template = parseCommand(`train --data {input} "--out={output_dir}" 'two words'`);

  it('puts each job path into exactly one argument, unchanged, whatever the name', () => {
    fc.assert(
      fc.property(hostileName, hostileName, (name, out) => {
        const v = values('/srv/data/amick', name, out);
        const argv = commandArgv(template, v);
        expect(argv).toEqual(['train', '--data', v.input, `--out=${v.outputDir}`, 'two words']);
        // Absolute, so never read as an option by the program.
        expect(argv[2]?.startsWith('/')).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('hands hostile names to a real program as data: printed back byte for byte, nothing run', () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'sluice-argv-'));
    const printf = parseCommand(`printf '%s\\0' {input} {output_dir}`);
    fc.assert(
      fc.property(hostileName, (name) => {
        const v = values(cwd, name);
        const [program, ...args] = commandArgv(printf, v);
        const r = spawnSync(program as string, args, {
          cwd,
          env: commandEnv(process.env, v),
          shell: false,
        });
        expect(r.status).toBe(0);
        expect(r.stdout.toString('utf8')).toBe(`${v.input}\0${v.outputDir}\0`);
      }),
      { numRuns: 60 },
    );
    expect(readdirSync(cwd)).toEqual([]);
    expect(existsSync(path.join(process.cwd(), 'pwned'))).toBe(false);
  });

  it('gives the job values to scripts as variables, without the worker secrets', () => {
    const v = values('/srv', 'run$(touch pwned).h5');
    const env = commandEnv({ PATH: '/bin', SLUICE_TOKEN: 't', SLUICE_WORKER_CREDENTIAL: 'c' }, v);
    expect(env).toMatchObject({
      SLUICE_INPUT: '/srv/run$(touch pwned).h5',
      SLUICE_OUTPUT_DIR: '/srv/out',
      SLUICE_JOB_ID: '7',
      SLUICE_JOB_KIND: 'train',
      SLUICE_JOB_PARAMS: '{"n":1}',
    });
    expect(env.SLUICE_TOKEN).toBeUndefined();
    expect(env.SLUICE_WORKER_CREDENTIAL).toBeUndefined();
  });

  it('refuses templates that would give job data to a shell, saying what to do instead', () => {
    expect(() => parseCommand('sleep 1 && cp {input} {output_dir}')).toThrow(/without a shell/);
    expect(() => parseCommand('train {input} > log')).toThrow(/shell syntax/);
    expect(() => parseCommand(`sh -c 'cp {input} {output_dir}'`)).toThrow(/SLUICE_INPUT/);
    expect(() => parseCommand(`/usr/bin/bash -lc "train {input}"`)).toThrow(/as code/);
    expect(() => parseCommand(`python3 -c "open('{input}')"`)).toThrow(/as code/);
    expect(() => parseCommand(`train 'unterminated`)).toThrow(/unterminated/);
    expect(() => parseCommand('   ')).toThrow(/empty/);
    // The safe spelling of the same script is accepted.
    expect(parseCommand(`sh -c 'cp "$SLUICE_INPUT" "$SLUICE_OUTPUT_DIR"/'`).words).toEqual([
      'sh',
      '-c',
      'cp "$SLUICE_INPUT" "$SLUICE_OUTPUT_DIR"/',
    ]);
  });

  it('refuses relative job paths', () => {
    expect(() => commandArgv(template, { ...values('/srv', 'x'), input: '-rf' })).toThrow(
      /not absolute/,
    );
  });
});
