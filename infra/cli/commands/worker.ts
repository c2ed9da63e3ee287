import { hostname } from 'node:os';
import type { Command } from 'commander';
import { parseConfig } from '../../../shared/config/load.ts';
import { createWorker } from '../../worker/agent.ts';
import { readStackFile } from '../lib/stack-file.ts';

/** `sluice worker`: the worker agent a lab runs on a GPU box or in a container. */
export function register(program: Command): void {
  program
    .command('worker')
    .description("announce this machine's storage backends, claim jobs and run them")
    .option(
      '--config <file>',
      "TOML with this machine's [storage.<name>] base_path mounts (or SHARED_STORAGE_ROOT)",
    )
    .option('--id <worker-id>', 'worker id', `${hostname()}-${process.pid}`)
    .option('--exec <command>', 'command to run; {input} and {output_dir} are replaced')
    .option('--poll <ms>', 'poll interval when idle', '2000')
    .action(async (opts: { config?: string; id: string; exec?: string; poll: string }) => {
      const { api } = program.opts<{ api?: string }>();
      const stack = readStackFile();
      const base = api ?? process.env.SLUICE_API ?? stack?.api;
      const token =
        program.opts<{ token?: string }>().token ?? process.env.SLUICE_TOKEN ?? stack?.devToken;
      if (!base || !token)
        throw new Error('set SLUICE_API and SLUICE_TOKEN (a JWT with the worker role)');
      // The worker only needs storage settings; the shared loader validates them the same way.
      const config = parseConfig({
        JWT_SECRET: 'unused-by-workers',
        SLUICE_CONFIG: opts.config,
        SHARED_STORAGE_ROOT: process.env.SHARED_STORAGE_ROOT,
        AIMINO_DATA_ROOT: process.env.AIMINO_DATA_ROOT,
      });
      const storage = config.storage.filter((b) => b.name !== 'data');
      const worker = createWorker({
        api: base,
        token,
        workerId: opts.id,
        storage,
        exec: opts.exec,
        pollMs: Number(opts.poll),
        heartbeatMs: Number(process.env.SLUICE_HEARTBEAT_MS ?? 10_000),
      });
      process.stdout.write(
        `worker ${opts.id}: backends ${worker.backends.join(', ') || '(none)'}\n`,
      );
      const shutdown = () => {
        process.stdout.write('worker: stopping after the current job\n');
        void worker.stop().then(() => process.exit(0));
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
      await worker.run();
    });
}
