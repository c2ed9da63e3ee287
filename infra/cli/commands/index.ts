import type { Command } from 'commander';
import * as doctor from './doctor.ts';
import * as login from './login.ts';
import * as minio from './minio.ts';
import * as objects from './objects.ts';
import * as records from './records.ts';
import * as rescan from './rescan.ts';
import * as token from './token.ts';
import * as users from './users.ts';
import * as worker from './worker.ts';

/** Each command module exports `register(program)`. */
const modules: { register(program: Command): void }[] = [
  login,
  token,
  users,
  rescan,
  worker,
  minio,
  objects,
  records,
  doctor,
];

export function registerCommands(program: Command): void {
  for (const m of modules) m.register(program);
}
