import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian's own Python, the one `apt-get install python3-*` installs modules for. */
export const PYTHON = '/usr/bin/python3';

/** True when Debian's Python can import every module named. */
export function pythonHas(...modules: string[]): boolean {
  return (
    existsSync(PYTHON) &&
    spawnSync(PYTHON, ['-c', `import ${modules.join(', ')}`], { stdio: 'ignore' }).status === 0
  );
}

/**
 * Makes sure a Debian package is installed, judged by `present()`: tests that need software outside
 * Node (an independent HDF5 or TIFF writer) install it with apt when running as root, as CI does on
 * a fresh machine, and fail with the command to run otherwise.
 */
export function ensureDebianPackage(pkg: string, present: () => boolean, purpose: string): void {
  if (present()) return;
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // Bounded: a stuck mirror fails the test setup instead of hanging it.
    const apt = (args: string[]) =>
      spawnSync('apt-get', args, { stdio: 'ignore', env, timeout: 300_000 });
    apt(['install', '-y', '-q', pkg]);
    if (!present()) {
      apt(['update', '-q']);
      apt(['install', '-y', '-q', pkg]);
    }
  }
  if (!present()) throw new Error(`${pkg} is required ${purpose}: apt-get install ${pkg}`);
}
