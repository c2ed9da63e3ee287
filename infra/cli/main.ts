import { Command } from 'commander';
import { registerCommands } from './commands/index.ts';

const program = new Command()
  .name('sluice')
  .description('Upload, register and ingest research data through a Sluice deployment')
  .option('--json', 'machine-readable output')
  .option('--api <url>', 'API base URL (default: from .sluice/stack.json or SLUICE_API)')
  .option('--token <jwt>', 'access token (default: SLUICE_TOKEN or the local dev token)')
  .option('--timeout <seconds>', 'bound on each API call (default 30)');

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`sluice: ${(err as Error).message}\n`);
  process.exitCode = process.exitCode || 1;
}
