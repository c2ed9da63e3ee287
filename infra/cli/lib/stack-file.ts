import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** What `npm start` writes to `.sluice/stack.json`. */
export interface StackFile {
  api: string;
  databaseUrl: string;
  devToken: string;
  webhookToken?: string;
  rescanToken?: string;
  s3: {
    endpoint: string;
    publicEndpoint: string;
    bucket: string;
    region: string;
    accessKey: string;
    secretKey: string;
  };
}

/** The local stack's details, from SLUICE_STACK_FILE or `.sluice/stack.json`, when present. */
export function readStackFile(env: NodeJS.ProcessEnv = process.env): StackFile | undefined {
  const file =
    env.SLUICE_STACK_FILE ?? path.resolve(env.SLUICE_STATE_DIR ?? '.sluice', 'stack.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as StackFile;
}

/** The HS256 secret to mint tokens with: JWT_SECRET, else the local stack's generated one. */
export function localJwtSecret(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.JWT_SECRET) return env.JWT_SECRET;
  const file = path.resolve(env.SLUICE_STATE_DIR ?? '.sluice', 'secrets.json');
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { JWT_SECRET?: string }).JWT_SECRET;
}

/** The access token `sluice login` saved, if any. */
export function savedToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = path.resolve(env.SLUICE_STATE_DIR ?? '.sluice', 'credentials.json');
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { accessToken?: string }).accessToken;
}
