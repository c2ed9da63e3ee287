import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** What `npm start` writes to `.sluice/stack.json`. */
export interface StackFile {
  api: string;
  databaseUrl: string;
  devToken: string;
  webhookToken?: string;
  rescanToken?: string;
  /** The stack's data root (backend `data`) and its storage TOML, when it had one. */
  dataRoot?: string;
  storageConfig?: string;
  s3: {
    endpoint: string;
    publicEndpoint: string;
    bucket: string;
    region: string;
    accessKey: string;
    secretKey: string;
  };
}

/** What `sluice login` saves (and a refresh replaces). */
export interface Credentials {
  api: string;
  user: string;
  accessToken: string;
  refreshToken?: string;
  expiresIn?: number;
}

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/**
 * The CLI's state folder: SLUICE_STATE_DIR; else the nearest `.sluice` folder in this directory or a
 * parent (so the CLI finds the local stack from any folder of the checkout); else `~/.sluice`.
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (env.SLUICE_STATE_DIR) return path.resolve(cwd, env.SLUICE_STATE_DIR);
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    if (isDir(path.join(dir, '.sluice'))) return path.join(dir, '.sluice');
    if (path.dirname(dir) === dir) break;
  }
  return path.join(env.HOME ?? os.homedir(), '.sluice');
}

function readJson<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** The local stack's details, from SLUICE_STACK_FILE or the state folder's `stack.json`, when present. */
export function readStackFile(env: NodeJS.ProcessEnv = process.env): StackFile | undefined {
  return readJson<StackFile>(env.SLUICE_STACK_FILE ?? path.join(stateDir(env), 'stack.json'));
}

/** The secrets `npm start` generated (`secrets.json` in the state folder), when present. */
function readSecrets(env: NodeJS.ProcessEnv): Record<string, string> {
  return readJson<Record<string, string>>(path.join(stateDir(env), 'secrets.json')) ?? {};
}

/** The HS256 secret to mint tokens with: JWT_SECRET, else the local stack's generated one. */
export function localJwtSecret(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.JWT_SECRET ?? readSecrets(env).JWT_SECRET;
}

/**
 * The environment a server-side command (`doctor`, `minio setup`) runs with: the local stack's
 * settings (stack.json, secrets.json) under whatever the environment sets, which wins.
 */
export function withLocalStack(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const stack = readStackFile(env);
  if (!stack) return env;
  const fromStack: Record<string, string | undefined> = {
    ...readSecrets(env),
    DATABASE_URL: stack.databaseUrl,
    MINIO_ENDPOINT: stack.s3?.endpoint,
    MINIO_PUBLIC_ENDPOINT: stack.s3?.publicEndpoint,
    MINIO_ACCESS_KEY: stack.s3?.accessKey,
    MINIO_SECRET_KEY: stack.s3?.secretKey,
    MINIO_BUCKET: stack.s3?.bucket,
    AIMINO_DATA_ROOT: stack.dataRoot ?? path.join(stateDir(env), 'data'),
    SLUICE_CONFIG: stack.storageConfig,
  };
  // Only the stack's own settings count: a DATABASE_URL from the environment must not be mixed with
  // the stack's POSTGRES_* and the like, so an environment that points elsewhere keeps all of it.
  if (env.DATABASE_URL || env.POSTGRES_HOST) delete fromStack.DATABASE_URL;
  if (env.MINIO_ENDPOINT) {
    for (const k of [
      'MINIO_ENDPOINT',
      'MINIO_PUBLIC_ENDPOINT',
      'MINIO_ACCESS_KEY',
      'MINIO_SECRET_KEY',
      'MINIO_BUCKET',
    ])
      delete fromStack[k];
  }
  const merged: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(fromStack)) if (v) merged[k] = v;
  return { ...merged, ...env };
}

const credentialsFile = (env: NodeJS.ProcessEnv) => path.join(stateDir(env), 'credentials.json');

/** What `sluice login` saved, if anything. */
export function readCredentials(env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  return readJson<Credentials>(credentialsFile(env));
}

/** Saves (or replaces) the login's tokens, readable by this OS user only; returns the file. */
export async function saveCredentials(
  creds: Credentials,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const file = credentialsFile(env);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(creds, null, 2), { mode: 0o600 });
  return file;
}

/** Forgets the login; true when there was one. */
export async function removeCredentials(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const file = credentialsFile(env);
  const had = existsSync(file);
  await rm(file, { force: true });
  return had;
}
