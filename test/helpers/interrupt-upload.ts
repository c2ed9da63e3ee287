import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readUploadState, type UploadState } from '../../infra/cli/lib/upload-state.ts';

/**
 * Runs `sluice upload --parallel 1 <file>` and kills it (SIGKILL) as soon as its resume state records
 * a part: a real interruption. Bounded by `ms`. Returns the state it left.
 */
export async function uploadAndKill(opts: {
  file: string;
  stateFile: string;
  env: NodeJS.ProcessEnv;
  cwd?: string;
  ms?: number;
}): Promise<UploadState> {
  const child = spawn(
    process.execPath,
    [`${process.cwd()}/infra/cli/bin.mjs`, 'upload', '--parallel', '1', opts.file],
    { env: opts.env, cwd: opts.cwd, stdio: 'ignore' },
  );
  const exited = new Promise((r) => child.once('exit', r));
  const t0 = Date.now();
  let state: UploadState | undefined;
  while (Date.now() - t0 < (opts.ms ?? 30_000) && child.exitCode === null) {
    state = existsSync(opts.stateFile) ? await readUploadState(opts.stateFile) : undefined;
    if (Object.keys(state?.parts ?? {}).length >= 1) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGKILL');
  await exited;
  state = await readUploadState(opts.stateFile);
  if (!state || Object.keys(state.parts).length === 0)
    throw new Error('the upload was not interrupted after a part (it finished or never sent one)');
  return state;
}
