import type { Command } from 'commander';
import { apiRequest } from '../../lib/api-request.ts';
import { readStackFile } from '../lib/stack-file.ts';

/** `sluice rescan`: runs the rescan now (POST /rescan) and prints its run record. */
export function register(program: Command): void {
  program
    .command('rescan')
    .description('find objects whose notifications were missed and ingest them')
    .option('--dry-run', 'only report what would be ingested')
    .option('--prefix <prefix>', 'limit to keys below this prefix')
    .option('--max-seconds <n>', 'time budget')
    .action(async (opts: { dryRun?: boolean; prefix?: string; maxSeconds?: string }) => {
      const { json, api } = program.opts<{ json?: boolean; api?: string }>();
      const stack = readStackFile();
      const base = api ?? process.env.SLUICE_API ?? stack?.api;
      const token = process.env.SLUICE_RESCAN_TOKEN ?? stack?.rescanToken;
      if (!base || !token)
        throw new Error('set SLUICE_API and SLUICE_RESCAN_TOKEN, or run next to a local stack');
      const body = {
        dryRun: opts.dryRun,
        prefix: opts.prefix,
        maxSeconds: opts.maxSeconds ? Number(opts.maxSeconds) : undefined,
      };
      // While the run goes, follow its record (the server updates counts every 2 s).
      const showProgress = !json && process.stderr.isTTY;
      const ticker = showProgress
        ? setInterval(() => {
            apiRequest<{ runs: Record<string, number | string>[] }>({
              base,
              method: 'GET',
              path: '/api/v1/rescans?limit=1',
              token,
              timeoutMs: 5_000,
            })
              .then(({ runs }) => {
                const r = runs[0];
                if (r?.status === 'running')
                  process.stderr.write(
                    `\rlisted ${r.listed}, missing ${r.missing}, ingested ${r.ingested}   `,
                  );
              })
              .catch(() => {});
          }, 1000)
        : undefined;
      // The run stops itself before maxSeconds; without one, an hour is the most we wait.
      const timeoutMs = ((body.maxSeconds ?? 3600) + 60) * 1000;
      const out = await apiRequest<{
        status?: string;
        run?: Record<string, unknown>;
        wouldIngest?: string[];
      }>({ base, method: 'POST', path: '/rescan', token, body, timeoutMs }).finally(() => {
        if (ticker) {
          clearInterval(ticker);
          process.stderr.write('\n');
        }
      });
      if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else {
        const r = out.run ?? {};
        process.stdout.write(
          `rescan ${out.status}: listed ${r.listed ?? 0}, missing ${r.missing ?? 0}, ingested ${r.ingested ?? 0}, failed ${r.failed ?? 0}, reclaimed ${r.reclaimed ?? 0}\n`,
        );
        for (const k of out.wouldIngest ?? []) process.stdout.write(`  would ingest ${k}\n`);
      }
      if (out.status === 'failed') process.exitCode = 1;
    });
}
