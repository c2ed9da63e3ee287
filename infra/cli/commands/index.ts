import type { Command } from 'commander';
import * as rescan from './rescan.ts';
import * as token from './token.ts';

/** Each command module exports `register(program)`. */
const modules: { register(program: Command): void }[] = [token, rescan];

export function registerCommands(program: Command): void {
  for (const m of modules) m.register(program);
}
