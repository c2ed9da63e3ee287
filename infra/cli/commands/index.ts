import type { Command } from 'commander';

/** Each command module exports `register(program)`; add new modules to this list. */
const modules: { register(program: Command): void }[] = [];

export function registerCommands(program: Command): void {
  for (const m of modules) m.register(program);
}
