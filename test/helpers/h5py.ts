import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const PYTHON = '/usr/bin/python3';

/** True when /usr/bin/python3 can import every module in `modules`. */
function canImport(modules: string): boolean {
  return (
    existsSync(PYTHON) &&
    spawnSync(PYTHON, ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0
  );
}

/**
 * Makes sure a Debian package is installed, judged by `present()`: CI runs on a fresh machine as root,
 * so a missing package is installed with apt (after `apt-get update` if the first try fails).
 */
export function ensureDebianPackage(pkg: string, present: () => boolean, why: string): void {
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
  if (!present()) throw new Error(`${pkg} is required ${why}: apt-get install ${pkg}`);
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

/** Makes sure Debian's python3-tables (PyTables) is present, for files only PyTables writes. */
export function ensurePyTables(): void {
  ensureH5py();
  ensureDebianPackage('python3-tables', () => canImport('tables'), 'to write PyTables test files');
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
