import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianPackage } from './debian.ts';

const SH5UTIL = '/usr/bin/sh5util';

/** One per-node step file as Slurm's hdf5 profile plugin leaves it in ProfileHDF5Dir. */
export interface NodeStepFile {
  file: string;
  step: string;
  node: string;
}

/**
 * Merges per-node step files into one job file with Debian's `sh5util -j` (slurm-wlm-hdf5-plugin,
 * installed on demand), the way Slurm users get their profiles. sh5util reads the files from
 * `<ProfileHDF5Dir>/<user>/<jobid>_<step>_<node>.h5` (and deletes them), taking ProfileHDF5Dir from the
 * acct_gather.conf beside the slurm.conf that SLURM_CONF names; `-u` must be an existing user.
 */
export async function sh5utilMerge(
  jobId: number,
  parts: NodeStepFile[],
  out: string,
  timeoutMs = 60_000,
): Promise<void> {
  ensureDebianPackage(
    'slurm-wlm-hdf5-plugin',
    () => existsSync(SH5UTIL),
    'to merge Slurm profiles',
  );
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-sh5util-'));
  try {
    const user = os.userInfo().username;
    const profileDir = path.join(dir, 'profiles');
    await mkdir(path.join(profileDir, user), { recursive: true });
    for (const p of parts)
      await copyFile(p.file, path.join(profileDir, user, `${jobId}_${p.step}_${p.node}.h5`));
    await writeFile(
      path.join(dir, 'slurm.conf'),
      'ClusterName=sluice-test\nSlurmctldHost=localhost\nAcctGatherProfileType=acct_gather_profile/hdf5\n',
    );
    await writeFile(path.join(dir, 'acct_gather.conf'), `ProfileHDF5Dir=${profileDir}\n`);
    execFileSync(SH5UTIL, ['-j', String(jobId), '-u', user, '-o', out], {
      env: { ...process.env, SLURM_CONF: path.join(dir, 'slurm.conf') },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    if (!existsSync(out)) throw new Error(`sh5util wrote no ${out}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
