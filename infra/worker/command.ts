import path from 'node:path';

/**
 * The `--exec` command of a worker, parsed once from the operator's string into argv words. Job data
 * (paths, kind, params) never passes through a shell: placeholders are replaced inside argv elements
 * and the program is spawned directly, and the same values are exported as environment variables.
 */
export interface CommandTemplate {
  words: string[];
}

const PLACEHOLDERS = ['{input}', '{output_dir}'] as const;
/** Characters a shell would treat as syntax; unquoted in the template they would mean nothing here. */
const SHELL_SYNTAX = new Set(['|', '&', ';', '<', '>', '(', ')', '$', '`']);
/** Programs that run their `-c`/`-e` argument as code: a job path there would be code again. */
const INTERPRETERS = new Set([
  'sh',
  'bash',
  'dash',
  'zsh',
  'ksh',
  'ash',
  'fish',
  'csh',
  'tcsh',
  'busybox',
  'python',
  'python3',
  'perl',
  'ruby',
  'node',
]);
const CODE_FLAGS = new Set(['-c', '-e', '--eval', '-lc', '-ec']);

/**
 * Splits the operator's `--exec` string into words: whitespace separates, '…' and "…" quote (a
 * backslash escapes the next character outside single quotes). No expansion of any kind. Unquoted
 * shell syntax (`&&`, `|`, `$`, …) is refused with the way to get it: `sh -c '…'` with the job's
 * values read from `$SLUICE_INPUT` and `$SLUICE_OUTPUT_DIR`.
 */
export function parseCommand(command: string): CommandTemplate {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i] as string;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < command.length)
        word = `${word ?? ''}${command[++i]}`;
      else word = `${word ?? ''}${ch}`;
    } else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= '';
    } else if (ch === '\\' && i + 1 < command.length) {
      word = (word ?? '') + command[++i];
    } else if (SHELL_SYNTAX.has(ch)) {
      throw new Error(
        `--exec: '${ch}' is shell syntax, and the command runs without a shell. For pipes or && use ` +
          `sh -c '...' and read the job's paths from "$SLUICE_INPUT" and "$SLUICE_OUTPUT_DIR"`,
      );
    } else word = (word ?? '') + ch;
  }
  if (quote) throw new Error(`--exec: unterminated ${quote} quote`);
  if (word !== undefined) words.push(word);
  if (words.length === 0) throw new Error('--exec: empty command');
  const program = path.basename(words[0] as string);
  if (INTERPRETERS.has(program)) {
    const code = words.findIndex((w) => CODE_FLAGS.has(w));
    if (code >= 0 && words.slice(code + 1).some((w) => PLACEHOLDERS.some((p) => w.includes(p))))
      throw new Error(
        `--exec: ${program} would run {input}/{output_dir} as code; use "$SLUICE_INPUT" and ` +
          `"$SLUICE_OUTPUT_DIR" inside the script instead`,
      );
  }
  return { words };
}

/** The job values a command receives: absolute paths on this machine, and the job's identity. */
export interface CommandValues {
  input: string;
  outputDir: string;
  jobId: number;
  kind: string;
  params: Record<string, unknown>;
}

/**
 * The argv for one job: each template word with `{input}`/`{output_dir}` replaced by the absolute path
 * (so a path is always one argument, and never starts with `-`). Paths must be absolute.
 */
export function commandArgv(t: CommandTemplate, v: CommandValues): string[] {
  for (const p of [v.input, v.outputDir])
    if (!path.isAbsolute(p)) throw new Error(`job path '${p}' is not absolute`);
  // One pass: a path that itself contains `{output_dir}` is data, not a placeholder.
  return t.words.map((w) =>
    w.replace(/\{(input|output_dir)\}/g, (_m, p: string) =>
      p === 'input' ? v.input : v.outputDir,
    ),
  );
}

/** Variables that must not reach a job's command: the worker's own credentials. */
const SECRET_VARS = ['SLUICE_TOKEN', 'SLUICE_WORKER_CREDENTIAL', 'JWT_SECRET'];

/** The environment a job's command runs with: the worker's, minus its secrets, plus the job's values. */
export function commandEnv(base: NodeJS.ProcessEnv, v: CommandValues): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const k of SECRET_VARS) delete env[k];
  return {
    ...env,
    SLUICE_INPUT: v.input,
    SLUICE_OUTPUT_DIR: v.outputDir,
    SLUICE_JOB_ID: String(v.jobId),
    SLUICE_JOB_KIND: v.kind,
    SLUICE_JOB_PARAMS: JSON.stringify(v.params),
  };
}
