import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { functionNames } from '../../functions/registry.ts';
import { RUNTIME_PACKAGES } from '../../infra/build/runtime-packages.ts';
import { freePort } from '../../infra/local/free-port.ts';
import { envSchema } from '../../shared/config/schema.ts';
import { minioBody, putObject } from '../helpers/events.ts';
import { createTestStack } from '../helpers/stack.ts';

const schemaVars = new Set(Object.keys(envSchema.shape));
const isKnown = (name: string) =>
  schemaVars.has(name) || (name.endsWith('_FILE') && schemaVars.has(name.slice(0, -5)));
/** Settings of the runtimes around Sluice (of-watchdog), not Sluice's own. */
const watchdogVars = new Set([
  'mode',
  'upstream_url',
  'fprocess',
  'exec_timeout',
  'write_timeout',
  'read_timeout',
  'max_inflight',
]);

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}
const docs = (file: string) =>
  parseAllDocuments(readFileSync(file, 'utf8'), { merge: true }).map((d) =>
    d.toJS({ maxAliasCount: 100 }),
  );
const all = ['serverless.yml', ...yamlFiles('infra')];

describe('deployment files', () => {
  it('every YAML file parses', () => {
    expect(all.length).toBeGreaterThanOrEqual(10);
    for (const file of all) {
      for (const d of parseAllDocuments(readFileSync(file, 'utf8'), { merge: true }))
        expect(d.errors, file).toEqual([]);
    }
  });

  it('serverless.yml names every function, each with an entry and an image', () => {
    const sls = docs('serverless.yml')[0];
    expect(sls.provider.name).toBe('knative');
    expect(Object.keys(sls.functions).sort()).toEqual([...functionNames].sort());
    for (const [name, fn] of Object.entries<Record<string, any>>(sls.functions)) {
      expect(existsSync(`functions/${name}/app.ts`), name).toBe(true);
      expect(fn.image).toMatch(/^ghcr\.io\/.+:\d/);
      expect(fn.environment.SLUICE_FUNCTION).toBe(name);
      expect(existsSync(fn.handler), fn.handler).toBe(true);
    }
    expect(sls.functions.rescan.events[0].cron.schedule).toBe('0 3 * * *');
  });

  it('a Knative Service per function, with the port and probe paths the code serves', () => {
    for (const fn of functionNames) {
      const [svc] = docs(`infra/knative/${fn}.yaml`);
      expect(svc.kind).toBe('Service');
      const container = svc.spec.template.spec.containers[0];
      expect(container.ports[0].containerPort).toBe(8080);
      expect(container.env).toContainEqual({ name: 'SLUICE_FUNCTION', value: fn });
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
      expect(container.livenessProbe.httpGet.path).toBe('/healthz');
      expect(container.resources.requests.cpu).toBeTruthy();
    }
    const events = docs('infra/knative/events.yaml')[0];
    expect(events.spec.template.spec.containerConcurrency).toBeLessThanOrEqual(4);
    expect(
      Number(events.spec.template.metadata.annotations['autoscaling.knative.dev/max-scale']),
    ).toBeLessThanOrEqual(4);
    for (const internal of ['events', 'rescan']) {
      expect(
        docs(`infra/knative/${internal}.yaml`)[0].metadata.labels[
          'networking.knative.dev/visibility'
        ],
      ).toBe('cluster-local');
    }
    const policy = docs('infra/knative/network-policy.yaml')[0];
    expect(policy.spec.podSelector.matchExpressions[0].values).toEqual([
      'sluice-events',
      'sluice-rescan',
    ]);
    const ping = docs('infra/knative/rescan-pingsource.yaml')[0];
    expect(ping.spec.sink.uri).toMatch(/\/rescan\?token=/);
  });

  it('no drift: every setting the schema reads is in each target, and every setting there is known', () => {
    const [configMap, secret] = docs('infra/knative/config.yaml');
    const knative = new Set([...Object.keys(configMap.data), ...Object.keys(secret.stringData)]);
    const openfaas = docs('infra/openfaas/stack.yml')[0];
    for (const name of schemaVars) {
      expect(knative.has(name), `${name} missing from infra/knative/config.yaml`).toBe(true);
      for (const [fn, def] of Object.entries<Record<string, any>>(openfaas.functions)) {
        const env = def.environment as Record<string, string>;
        expect(name in env || `${name}_FILE` in env, `${name} missing from openfaas ${fn}`).toBe(
          true,
        );
      }
    }
    for (const name of knative)
      expect(isKnown(name), `unknown setting ${name} in knative config`).toBe(true);
    for (const def of Object.values<Record<string, any>>(openfaas.functions)) {
      for (const name of Object.keys(def.environment))
        expect(isKnown(name) || watchdogVars.has(name), `unknown ${name} in openfaas`).toBe(true);
    }
    const sls = docs('serverless.yml')[0];
    for (const name of Object.keys(sls.provider.environment))
      expect(isKnown(name), name).toBe(true);
    // The CronJob and the migration Job take their settings from the same ConfigMap/Secret.
    const cron = docs('infra/k8s/rescan-cronjob.yaml')[0];
    const cronEnv = cron.spec.jobTemplate.spec.template.spec.containers[0].env;
    for (const e of cronEnv) {
      expect(isKnown(e.name)).toBe(true);
      expect(e.valueFrom.secretKeyRef.name).toBe(secret.metadata.name);
    }
    const migrate = docs('infra/k8s/migrate-job.yaml')[0].spec.template.spec.containers[0];
    expect(
      migrate.envFrom.map((e: Record<string, { name: string }>) => Object.values(e)[0]?.name),
    ).toEqual([configMap.metadata.name, secret.metadata.name]);
  });

  it('OpenFaaS uses of-watchdog in HTTP mode, bounds the events function and schedules the rescan', () => {
    const stack = docs('infra/openfaas/stack.yml')[0];
    for (const def of Object.values<Record<string, any>>(stack.functions)) {
      expect(def.environment.mode).toBe('http');
      expect(def.environment.upstream_url).toBe(`http://127.0.0.1:${def.environment.PORT}`);
    }
    expect(stack.functions['sluice-events'].environment.max_inflight).toBe('2');
    expect(stack.functions['sluice-rescan'].annotations).toEqual({
      topic: 'cron-function',
      schedule: '0 3 * * *',
    });
  });

  it('the Dockerfile is multi-stage, runs as a non-root user and ships the bundles', () => {
    const dockerfile = readFileSync('infra/docker/Dockerfile', 'utf8');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/COPY --from=build \/src\/dist \.\/dist/);
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toMatch(/EXPOSE 8080/);
    // Runtime-only packages are installed against the lockfile, not re-resolved at build time.
    expect(dockerfile).toMatch(
      /COPY package\.json package-lock\.json \.\/\n.*npm install --omit=dev/s,
    );
    // Exactly the packages the bundles leave out (infra/build/runtime-packages.ts) are installed.
    const keep = dockerfile.match(/const keep=(\[[^\]]*\])/)?.[1];
    expect(keep, 'the runtime-deps stage names its packages in `const keep=[...]`').toBeDefined();
    expect(JSON.parse((keep ?? '[]').replaceAll("'", '"')).sort()).toEqual(
      [...RUNTIME_PACKAGES].sort(),
    );
  });

  it("the build context leaves out a working checkout's node_modules, builds and data", () => {
    const ignored = readFileSync('.dockerignore', 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const entry of ['node_modules/', 'dist/', '.sluice/', '.git/'])
      expect(ignored).toContain(entry);
    // Everything the build stage needs is still sent.
    for (const needed of ['package.json', 'package-lock.json', 'infra/', 'shared/', 'functions/'])
      expect(ignored.some((l) => needed.startsWith(l))).toBe(false);
  });

  it('the image check script parses', () => {
    execFileSync('bash', ['-n', 'infra/docker/check-image.sh']);
  });
});

describe('built bundles', () => {
  beforeAll(() => {
    execFileSync(process.execPath, ['--import', 'tsx', 'infra/build/build.ts'], {
      stdio: 'ignore',
    });
  }, 120_000);

  const start = async (args: string[], env: Record<string, string> = {}) => {
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return child;
  };

  /** Settings enough for a function to start (no connection is made until a request needs one). */
  const minimalEnv = (port: number) => ({
    PORT: String(port),
    JWT_SECRET: 'x',
    MINIO_ACCESS_KEY: 'a',
    MINIO_SECRET_KEY: 'b',
    LOG_LEVEL: 'silent',
  });

  /** Starts a bundle and waits for its /healthz; `stderr()` is what it printed so far. */
  const startBundle = async (args: string[], env: Record<string, string> = {}) => {
    const port = await freePort();
    const child = await start(args, { ...minimalEnv(port), ...env });
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    let body: unknown;
    for (let i = 0; i < 100 && body === undefined; i++) {
      body = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.json(),
        () => undefined,
      );
      if (body === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    const stop = async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      return exited;
    };
    return { body, port, stop, stderr: () => stderr };
  };

  it('every function bundle is under 1.5 MB, starts with its code cache, and answers /healthz', async () => {
    for (const fn of functionNames) {
      const size = statSync(`dist/${fn}/app.cjs`).size;
      expect(size, fn).toBeLessThan(1.5 * 1024 * 1024);
      expect(existsSync(`dist/${fn}/migrations/001-core.sql`)).toBe(true);
      const bundle = await startBundle([`dist/${fn}/index.cjs`, '--code-cache-report']);
      expect(bundle.body).toEqual({ status: 'ok', function: fn });
      // The cache written by the build matches this Node and this bundle.
      expect(bundle.stderr(), fn).toContain('code-cache: accepted');
      expect(await bundle.stop()).toBe(0);
    }
  }, 60_000);

  it('no start-up bundle carries classic zod or the SDK, pg and prom-client (they cost the cold start)', () => {
    const sourcesOf = (name: string) =>
      (JSON.parse(readFileSync(`dist/${name}/app.cjs.map`, 'utf8')) as { sources: string[] })
        .sources;
    const heavyIn = (sources: string[]) =>
      sources.filter((s) => /node_modules\/(zod\/v4\/classic|@aws-sdk|pg|prom-client)\//.test(s));
    // The one-shot migration job keeps pg inline, so the check does see a package that is there.
    expect(heavyIn(sourcesOf('migrate')).some((s) => s.includes('node_modules/pg/'))).toBe(true);
    for (const fn of [...functionNames, 'all']) {
      const sources = sourcesOf(fn);
      expect(heavyIn(sources), fn).toEqual([]);
      // The validation layer is there, in its small form.
      expect(
        sources.some((s) => s.includes('node_modules/zod/v4/mini/')),
        fn,
      ).toBe(true);
    }
  });

  it('the container entry starts the function SLUICE_FUNCTION names and refuses an unknown one', async () => {
    const bundle = await startBundle(['dist/start.cjs'], { SLUICE_FUNCTION: 'rescan' });
    expect(bundle.body).toEqual({ status: 'ok', function: 'rescan' });
    expect(await bundle.stop()).toBe(0);

    const bad = spawnSync(process.execPath, ['dist/start.cjs'], {
      env: { PATH: process.env.PATH, ...minimalEnv(1), SLUICE_FUNCTION: '../etc' },
      encoding: 'utf8',
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/SLUICE_FUNCTION: expected one of all, presign/);
  }, 30_000);

  it('a configuration error stops the bundle with the message, not a stack trace', () => {
    const r = spawnSync(process.execPath, ['dist/presign/index.cjs'], {
      env: { PATH: process.env.PATH, PORT: 'eighty' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^Invalid configuration: PORT/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a code cache from another V8 is rejected, the bundle still starts, and a fresh cache replaces it', async () => {
    // The same layout as dist/: <base>/launcher.cjs and <base>/jobs/.
    const base = mkdtempSync(path.join(tmpdir(), 'sluice-cache-'));
    const dir = path.join(base, 'jobs');
    mkdirSync(dir);
    for (const f of ['app.cjs', 'index.cjs']) copyFileSync(`dist/jobs/${f}`, path.join(dir, f));
    copyFileSync('dist/launcher.cjs', path.join(base, 'launcher.cjs'));
    writeFileSync(path.join(dir, 'app.cjs.cache'), Buffer.alloc(4096, 7));
    const bundle = await startBundle([path.join(dir, 'index.cjs')]);
    expect(bundle.body).toEqual({ status: 'ok', function: 'jobs' });
    expect(JSON.parse(bundle.stderr().split('\n')[0] ?? '{}')).toMatchObject({ level: 40 });
    expect(bundle.stderr()).toMatch(/code cache rejected/);
    // About two seconds after start the launcher writes a cache this Node accepts.
    await new Promise((r) => setTimeout(r, 2_500));
    await bundle.stop();
    const again = spawnSync(
      process.execPath,
      [path.join(dir, 'index.cjs'), '--code-cache-report'],
      {
        env: { PATH: process.env.PATH, PORT: 'x' },
        encoding: 'utf8',
      },
    );
    expect(again.stderr).toContain('code-cache: accepted');
  }, 30_000);

  it('the built presign and events bundles do real work against Postgres and the S3 server', async () => {
    const stack = await createTestStack();
    const db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
    const env = {
      JWT_SECRET: stack.config.auth.jwtSecret ?? '',
      DATABASE_URL: stack.databaseUrl,
      MINIO_ENDPOINT: stack.config.s3.endpoint,
      MINIO_ACCESS_KEY: stack.config.s3.accessKey ?? '',
      MINIO_SECRET_KEY: stack.config.s3.secretKey ?? '',
      MINIO_BUCKET: stack.bucket,
      SLUICE_WEBHOOK_TOKEN: 'bundle-webhook-token',
      SLUICE_METRICS_TOKEN: 'bundle-metrics-token',
      AIMINO_DATA_ROOT: path.join(stack.tmp, 'data'),
      LOG_LEVEL: 'silent',
    };
    const children: ChildProcess[] = [];
    let presignStderr = '';
    const run = async (fn: string) => {
      const port = await freePort();
      const child = await start([`dist/${fn}/index.cjs`, '--code-cache-report'], {
        ...env,
        PORT: String(port),
      });
      if (fn === 'presign')
        child.stderr?.on('data', (d) => {
          presignStderr += d;
        });
      children.push(child);
      const url = `http://127.0.0.1:${port}`;
      let last = '';
      for (let i = 0; i < 100; i++) {
        const r = await fetch(`${url}/readyz`).catch(() => undefined);
        if (r?.status === 200) return url;
        last = r ? await r.text() : 'not listening';
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`${fn} bundle never became ready: ${last}`);
    };
    try {
      // The migration job's bundle (pg inline, not a lazy chunk) runs against the real database.
      const migrated = spawnSync(process.execPath, ['dist/migrate/index.cjs'], {
        env: { PATH: process.env.PATH, ...env },
        encoding: 'utf8',
      });
      expect(migrated.status, migrated.stderr).toBe(0);
      expect(JSON.parse(migrated.stdout)).toMatchObject({ msg: 'migrations applied', applied: [] });

      // presign: a multipart plan (CreateMultipartUpload through the bundled SDK), listing, abort.
      const presign = await run('presign');
      const auth = { authorization: `Bearer ${await stack.token('alice')}` };
      const plan = await fetch(`${presign}/api/v1/uploads`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'big.bin', size: 300 * 1024 * 1024 }),
      });
      expect(plan.status).toBe(200);
      const { uploadId, key, partCount } = (await plan.json()) as Record<string, string>;
      expect(uploadId).toBeTruthy();
      expect(Number(partCount)).toBeGreaterThan(1);
      const abort = await fetch(
        `${presign}/api/v1/uploads/${encodeURIComponent(uploadId ?? '')}?key=${encodeURIComponent(key ?? '')}`,
        { method: 'DELETE', headers: auth },
      );
      expect(abort.status).toBeLessThan(300);
      await putObject(stack, 'alice/listed.txt', new TextEncoder().encode('hello'));
      const list = await fetch(`${presign}/api/v1/objects`, { headers: auth });
      expect(list.status).toBe(200);
      expect(JSON.stringify(await list.json())).toContain('alice/listed.txt');
      // The SDK came from dist/s3-sdk.cjs; prom-client loads on this first scrape.
      const metrics = await (
        await fetch(`${presign}/metrics`, {
          headers: { authorization: 'Bearer bundle-metrics-token' },
        })
      ).text();
      expect(metrics).toMatch(
        /sluice_http_request_duration_seconds_count\{[^}]*route="\/api\/v1\/uploads",status="200"\} 1/,
      );
      expect(metrics).toContain('sluice_process_resident_memory_bytes');
      // Each lazy chunk was loaded on first use, with the code cache the build wrote for it.
      for (const chunk of ['s3-sdk', 'pg-pool', 'prom-client'])
        expect(presignStderr).toContain(`code-cache ${chunk}.cjs: accepted`);

      // events: a Blosc-compressed file needs the HDF5 reader and its filter plugins, both loaded from
      // node_modules on first use through the launcher.
      const events = await run('events');
      const objectKey = 'lab/pytables_blosc_bigendian.h5';
      const etag = await putObject(
        stack,
        objectKey,
        'test/fixtures/hdf5/pytables_blosc_bigendian.h5',
      );
      const res = await fetch(`${events}/minio-event`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: 'Bearer bundle-webhook-token',
        },
        body: JSON.stringify(minioBody(stack.bucket, objectKey, etag)),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { results: { status: string; tables: string[] }[] };
      expect(body.results[0]?.status).toBe('done');
      const table = body.results[0]?.tables[0] ?? '';
      const rows = await db.query(`SELECT i8 FROM "${table}" ORDER BY i8`);
      expect(rows.rows.map((r) => Number(r.i8))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      for (const c of children) c.kill('SIGKILL');
      await db.end();
      await stack.close();
    }
  }, 60_000);

  it('a SIGTERM during a slow request lets it finish before the process exits', async () => {
    const child: ChildProcess = await start(['--import', 'tsx', 'test/helpers/slow-server.ts']);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const first = await new Promise<string>((r) => lines.once('line', r));
    const { port } = JSON.parse(first) as { port: number };
    const slow = fetch(`http://127.0.0.1:${port}/slow`).then((r) => r.json());
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    // New connections are refused while the slow one completes.
    await new Promise((r) => setTimeout(r, 200));
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    expect(await slow).toEqual({ finished: true });
    expect(await exited).toBe(0);
  }, 30_000);
});
