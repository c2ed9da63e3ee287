import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** A shell block of a README marked `<!-- tour -->`, `<!-- tour: setup -->` or `<!-- tour: start -->`. */
export interface TourBlock {
  kind: 'setup' | 'start' | 'run';
  code: string;
  source: string;
}

/** The tour blocks of a Markdown file, in order: each ```sh fence right after a tour marker. */
export function tourBlocks(markdown: string, source: string): TourBlock[] {
  const out: TourBlock[] = [];
  const re = /<!-- tour(?::\s*(setup|start))? -->\s*\n```sh\n([\s\S]*?)\n```/g;
  for (const m of markdown.matchAll(re)) {
    out.push({
      kind: (m[1] as 'setup' | 'start' | undefined) ?? 'run',
      code: m[2] as string,
      source,
    });
  }
  return out;
}

/** What a fresh clone has: the repository's files (linked, not copied) and installed node_modules. */
const CLONE_ENTRIES = [
  'package.json',
  'tsconfig.json',
  'node_modules',
  'functions',
  'shared',
  'infra',
  'test',
];

export interface Tour {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Runs a block with bash -e -o pipefail in the clone; throws with its output when it fails. */
  run(block: TourBlock, timeoutMs?: number): Promise<string>;
  /** Starts the `start` block in the background; resolves when the stack answers /readyz. */
  start(block: TourBlock, readyMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A folder laid out as a fresh clone (its own `.sluice`, no state from anywhere else) in which README
 * blocks run as written. `env` sets the documented port variables so runs do not collide.
 */
export async function createTour(env: Record<string, string>): Promise<Tour> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-tour-'));
  await chmod(dir, 0o755); // Postgres runs as its own OS user under root
  for (const e of CLONE_ENTRIES) await symlink(path.resolve(e), path.join(dir, e));
  const fullEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, ...env };
  let stack: ChildProcess | undefined;
  let stackOut = '';
  return {
    dir,
    env: fullEnv,
    async run(block, timeoutMs = 120_000) {
      try {
        const { stdout, stderr } = await exec('bash', ['-e', '-o', 'pipefail', '-c', block.code], {
          cwd: dir,
          env: fullEnv,
          timeout: timeoutMs,
          maxBuffer: 32 * 1024 * 1024,
        });
        return stdout + stderr;
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(
          `a tour block of ${block.source} failed: ${e.message}\n--- block ---\n${block.code}\n--- output ---\n${e.stdout ?? ''}${e.stderr ?? ''}`,
        );
      }
    },
    async start(block, readyMs = 60_000) {
      stack = spawn('bash', ['-e', '-c', block.code], {
        cwd: dir,
        env: fullEnv,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      stack.stdout?.on('data', (d) => {
        stackOut += d;
      });
      stack.stderr?.on('data', (d) => {
        stackOut += d;
      });
      const file = path.join(dir, '.sluice', 'stack.json');
      const t0 = Date.now();
      while (Date.now() - t0 < readyMs) {
        if (stack.exitCode !== null) throw new Error(`the stack exited:\n${stackOut}`);
        if (stackOut.includes('[sluice] details in') && existsSync(file)) {
          const { api } = JSON.parse(await readFile(file, 'utf8')) as { api: string };
          const ready = await fetch(`${api}/readyz`).then(
            (r) => r.ok,
            () => false,
          );
          if (ready) return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`the stack was not ready within ${readyMs} ms:\n${stackOut}`);
    },
    async stop() {
      const child = stack;
      if (!child?.pid || child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid, 'SIGINT');
      const timer = setTimeout(() => {
        try {
          process.kill(-(child.pid as number), 'SIGKILL');
        } catch {}
      }, 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
