import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';

describe('SIGTERM drain has a deadline', () => {
  it('a request that never ends and a shutdown that never ends cannot hold the process', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/slow-server.ts'], {
      env: { ...process.env, DRAIN_MS: '800', STUCK_CLEANUP: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout });
    const seen: string[] = [];
    const first = await new Promise<string>((r) => lines.once('line', r));
    lines.on('line', (l) => seen.push(l));
    const { port } = JSON.parse(first) as { port: number };
    const stuck = fetch(`http://127.0.0.1:${port}/stuck`).then(
      (r) => r.status,
      () => 'cut off',
    );
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    const t0 = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // 800 ms for the requests, 800 ms for the shutdown, and the process start-up's slack.
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_500);
    expect(await stuck).toBe('cut off');
    expect(seen).toContain('cleanup');
  }, 30_000);
});
