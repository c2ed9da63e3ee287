import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { parseConfig } from '../../../shared/config/load.ts';
import { createWorker } from '../../worker/agent.ts';
import { WorkerAuthError } from '../../worker/session.ts';
import { apiClient } from '../lib/api.ts';
import { readStackFile } from '../lib/stack-file.ts';

/** Exit status of a worker that can no longer authenticate (distinct from a crash). */
const EXIT_AUTH = 3;

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
    .option(
      '--exec <command>',
      'command to run, without a shell; {input} and {output_dir} become arguments, and ' +
        'SLUICE_INPUT, SLUICE_OUTPUT_DIR, SLUICE_JOB_ID, SLUICE_JOB_KIND, SLUICE_JOB_PARAMS are set',
    )
    .option('--kind <kind...>', 'job kinds the --exec command serves (default: every kind)')
    .option(
      '--credential-file <file>',
      'file holding a worker credential (sluice worker-credential add); or SLUICE_WORKER_CREDENTIAL',
    )
    .option('--poll <ms>', 'poll interval when idle', '2000')
    .action(
      async (opts: {
        config?: string;
        id: string;
        exec?: string;
        kind?: string[];
        credentialFile?: string;
        poll: string;
      }) => {
        const { api } = program.opts<{ api?: string }>();
        const stack = readStackFile();
        const base = api ?? process.env.SLUICE_API ?? stack?.api;
        const credential = opts.credentialFile
          ? readFileSync(opts.credentialFile, 'utf8').trim()
          : process.env.SLUICE_WORKER_CREDENTIAL;
        const token = credential
          ? undefined
          : (program.opts<{ token?: string }>().token ??
            process.env.SLUICE_TOKEN ??
            stack?.devToken);
        if (!base || (!token && !credential))
          throw new Error(
            'set SLUICE_API and SLUICE_WORKER_CREDENTIAL (sluice worker-credential add), or SLUICE_TOKEN',
          );
        if (opts.kind && !opts.exec) throw new Error('--kind names the kinds --exec serves');
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
          credential,
          workerId: opts.id,
          storage,
          exec: opts.exec,
          kinds: opts.kind,
          pollMs: Number(opts.poll),
          heartbeatMs: Number(process.env.SLUICE_HEARTBEAT_MS ?? 10_000),
        });
        process.stdout.write(
          `worker ${opts.id}: backends ${worker.backends.join(', ') || '(none)'}; kinds ${worker.kinds.join(', ')}\n`,
        );
        const shutdown = () => {
          process.stdout.write('worker: stopping after the current job\n');
          void worker.stop().then(() => process.exit(0));
        };
        process.once('SIGTERM', shutdown);
        process.once('SIGINT', shutdown);
        try {
          await worker.run();
        } catch (err) {
          // The agent has logged the cause once; exit non-zero instead of polling with a dead token.
          if (err instanceof WorkerAuthError) process.exit(EXIT_AUTH);
          throw err;
        }
      },
    );

  const creds = program
    .command('worker-credential')
    .description('admin: long-lived, revocable credentials for worker agents');
  creds
    .command('add')
    .description('mint a credential (printed once); workers use it via SLUICE_WORKER_CREDENTIAL')
    .requiredOption('--name <name>', 'the worker or pool it is for (principal worker:<name>)')
    .option('--ttl-days <days>', 'lifetime in days', '365')
    .option('--note <text>', 'what it is for')
    .action(async (opts: { name: string; ttlDays: string; note?: string }) => {
      const client = apiClient(program);
      const out = await client.call<{ id: string; credential: string; expiresAt: string }>(
        'POST',
        '/api/v1/worker-credentials',
        { name: opts.name, ttlDays: Number(opts.ttlDays), note: opts.note },
      );
      client.print(out, () => out.credential);
    });
  creds
    .command('ls')
    .description('list credentials (never their secrets)')
    .action(async () => {
      const client = apiClient(program);
      const out = await client.call<{
        credentials: {
          id: string;
          principal: string;
          expiresAt: string;
          revokedAt: string | null;
        }[];
      }>('GET', '/api/v1/worker-credentials');
      client.print(out, () =>
        out.credentials
          .map(
            (c) =>
              `${c.id}  ${c.principal}  expires ${c.expiresAt}${c.revokedAt ? '  REVOKED' : ''}`,
          )
          .join('\n'),
      );
    });
  creds
    .command('revoke <id>')
    .description('revoke a credential; its workers stop at their next token renewal')
    .action(async (id: string) => {
      const client = apiClient(program);
      const out = await client.call(
        'DELETE',
        `/api/v1/worker-credentials/${encodeURIComponent(id)}`,
      );
      client.print(out, () => `revoked ${id}`);
    });
}
