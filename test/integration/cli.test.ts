import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/registry.ts';
import { type NodeServer, serveNode } from '../../shared/http/serve-node.ts';
import { createTestStack, type TestStack } from '../helpers/stack.ts';

const run = promisify(execFile);
let stack: TestStack;
let server: NodeServer;
let env: NodeJS.ProcessEnv;
let api: string;

beforeAll(async () => {
  stack = await createTestStack();
  server = await serveNode(createApp('all', stack.services), { port: 0, hostname: '127.0.0.1' });
  const port = (server.server.address() as { port: number }).port;
  api = `http://127.0.0.1:${port}`;
  const stackFile = path.join(stack.tmp, 'stack.json');
  await writeFile(
    stackFile,
    JSON.stringify({
      api,
      rescanToken: 'test-rescan-token',
      devToken: '',
      databaseUrl: '',
      s3: {},
    }),
  );
  env = { PATH: process.env.PATH, SLUICE_STACK_FILE: stackFile, SLUICE_STATE_DIR: stack.tmp };
});
afterAll(async () => {
  await server.close(1000);
  await stack.close();
});

const sluice = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, ['infra/cli/bin.mjs', ...args], { env: { ...env, ...extra } });

describe('sluice CLI', () => {
  it('mints tokens with the admin secret that the functions accept', async () => {
    const { stdout } = await sluice(
      ['token', '--sub', 'amick', '--role', 'admin', '--ttl', '120'],
      { JWT_SECRET: stack.config.auth.jwtSecret },
    );
    const token = stdout.trim();
    const { payload } = await jwtVerify(
      token,
      new TextEncoder().encode(stack.config.auth.jwtSecret),
    );
    expect(payload).toMatchObject({ sub: 'amick', roles: ['admin'] });
    expect((payload.exp as number) - (payload.iat as number)).toBe(120);
    const res = await fetch(`${api}/api/v1/ingests`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const json = await sluice(['--json', 'token', '--sub', 'sam'], { JWT_SECRET: 'x' });
    expect(JSON.parse(json.stdout)).toMatchObject({ sub: 'sam', roles: [], expiresIn: 3600 });
  });

  it('fails with a clear message and a non-zero exit code when it cannot mint', async () => {
    await expect(sluice(['token', '--sub', 'amick'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('no JWT_SECRET'),
    });
    await expect(
      sluice(['token', '--sub', 'amick', '--ttl', 'soon'], { JWT_SECRET: 'x' }),
    ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('--ttl') });
  });

  it('runs a rescan against the stack and prints its record', async () => {
    const human = await sluice(['rescan', '--dry-run']);
    expect(human.stdout).toMatch(/^rescan completed: listed 0, missing 0/);
    const json = await sluice(['--json', 'rescan']);
    expect(JSON.parse(json.stdout).run).toMatchObject({ status: 'completed', dryRun: false });
    await expect(sluice(['rescan'], { SLUICE_RESCAN_TOKEN: 'wrong' })).rejects.toMatchObject({
      code: 1,
    });
  });

  it('minio setup applies the bucket notification (one queue rule per suffix) and prints the target commands', async () => {
    const { createServer } = await import('node:http');
    const seen: { method?: string; url?: string; auth?: string; body: string }[] = [];
    const fake = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
        res.writeHead(200, { 'content-type': 'application/xml' }).end();
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const port = (fake.address() as { port: number }).port;
    try {
      const out = await sluice(
        ['minio', 'setup', '--webhook-url', 'http://sluice-events.default.svc/minio-event'],
        {
          JWT_SECRET: 'x',
          MINIO_ENDPOINT: `127.0.0.1:${port}`,
          MINIO_ACCESS_KEY: 'admin',
          MINIO_SECRET_KEY: 'admin-secret',
          MINIO_BUCKET: 'lab-data',
          MINIO_OBJECT_PREFIX: 'uploads/',
        },
      );
      expect(out.stdout).toContain(
        'mc admin config set <alias> notify_webhook:sluice endpoint="http://sluice-events.default.svc/minio-event"',
      );
      const put = seen.find(
        (r) => r.method === 'PUT' && r.url?.startsWith('/lab-data?notification'),
      );
      expect(put?.auth).toMatch(/^AWS4-HMAC-SHA256 Credential=admin\//);
      const queues = put?.body.match(/<QueueConfiguration>.*?<\/QueueConfiguration>/g) ?? [];
      expect(queues).toHaveLength(2);
      for (const [i, suffix] of ['.h5', '.hdf5'].entries()) {
        expect(queues[i]).toContain('<Queue>arn:minio:sqs::sluice:webhook</Queue>');
        expect(queues[i]).toContain('<Event>s3:ObjectCreated:*</Event>');
        expect(queues[i]).toContain('<Event>s3:ObjectRemoved:*</Event>');
        expect(queues[i]).toContain('<Name>prefix</Name><Value>uploads/</Value>');
        expect(queues[i]).toContain(`<Name>suffix</Name><Value>${suffix}</Value>`);
      }
    } finally {
      fake.close();
    }
  });
});
