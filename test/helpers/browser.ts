import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Debian's Chromium for the browser tests: installed with apt when missing and running as root.
 * Returns the reason it is unavailable, or undefined when it is ready.
 */
export function ensureChromium(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get'))
    return 'Chromium is not installed and this user cannot install it (apt-get install chromium)';
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-q', 'chromium'], { stdio: 'ignore', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'ignore', env });
    r = spawnSync('apt-get', ['install', '-y', '-q', 'chromium'], { stdio: 'ignore', env });
  }
  return existsSync(CHROMIUM) ? undefined : `apt-get install chromium failed (exit ${r.status})`;
}
