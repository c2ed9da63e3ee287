import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const PYTHON = '/usr/bin/python3';

/** Whether Debian's python3 can import every one of `modules`. */
function canImport(modules: string): boolean {
  return (
    existsSync(PYTHON) &&
    spawnSync(PYTHON, ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0
  );
}

/**
 * Makes sure a Debian package is present, judged by `present()`: when it is not and this runs as root
 * with apt (CI's fresh machine), installs it, refreshing the package lists only if the first try fails.
 * Throws naming the package when it still is not there.
 */
export function ensureDebianPackage(pkg: string, present: () => boolean, purpose: string): void {
  if (present()) return;
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    const install = () =>
      spawnSync('apt-get', ['install', '-y', '-q', pkg], {
        stdio: 'ignore',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    install();
    if (!present()) {
      spawnSync('apt-get', ['update', '-q'], { stdio: 'ignore' });
      install();
    }
  }
  if (!present()) throw new Error(`${pkg} is required ${purpose}: apt-get install ${pkg}`);
}

/**
 * Makes sure Debian's python3-h5py is present: the tests write HDF5 files with it (a second,
 * independent HDF5 implementation), installing it with apt when running as root.
 */
export function ensureH5py(): void {
  ensureDebianPackage(
    'python3-h5py',
    () => canImport('h5py, numpy'),
    'to generate HDF5 test files',
  );
}

/** Makes sure Debian's python3-tables (PyTables, which writes LZO, bzip2 and Blosc) is present. */
export function ensurePyTables(): void {
  ensureDebianPackage(
    'python3-tables',
    () => canImport('tables, numpy'),
    'to write PyTables test files',
  );
}

/** Runs a Python script with h5py available; `args` are passed as sys.argv[1:]. */
export function runPython(script: string, args: string[] = []): string {
  ensureH5py();
  return execFileSync(PYTHON, ['-c', script, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
}

/**
 * Writes a Slurm acct_gather_profile-shaped file: per node a group with an `Energy` series and
 * `Tasks/<n>` series, each a compound packet table led by ElapsedTime and EpochTime (uint64).
 * `nodes` maps node name -> dataset path (below the node) -> { field: values }.
 */
export function writeProfileFile(
  file: string,
  nodes: Record<string, Record<string, Record<string, number[]>>>,
): void {
  runPython(
    `
import h5py, json, sys, numpy as np
spec = json.loads(sys.argv[2])
with h5py.File(sys.argv[1], 'w') as f:
    for node, series in spec.items():
        g = f.create_group(node)
        g.attrs['NodeName'] = node
        for path, fields in series.items():
            names = list(fields.keys())
            dt = np.dtype([(n, '<u8' if n in ('ElapsedTime', 'EpochTime') else '<f8') for n in names])
            rows = len(fields['ElapsedTime'])
            data = np.zeros(rows, dtype=dt)
            for n in names:
                data[n] = fields[n]
            g.create_dataset(path, data=data, maxshape=(None,), chunks=True)
`,
    [file, JSON.stringify(nodes)],
  );
}
