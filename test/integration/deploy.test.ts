import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { functionNames } from '../../functions/registry.ts';
import { envSchema } from '../../shared/config/schema.ts';

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

  it('every function bundle is under 1.5 MB, starts, and answers /healthz', async () => {
    for (const fn of functionNames) {
      const size = statSync(`dist/${fn}/index.mjs`).size;
      expect(size, fn).toBeLessThan(1.5 * 1024 * 1024);
      expect(existsSync(`dist/${fn}/migrations/001-core.sql`)).toBe(true);
      const port = 20000 + Math.floor(Math.random() * 20000);
      const child = await start([`dist/${fn}/index.mjs`], {
        PORT: String(port),
        JWT_SECRET: 'x',
        MINIO_ACCESS_KEY: 'a',
        MINIO_SECRET_KEY: 'b',
        LOG_LEVEL: 'silent',
      });
      let body: unknown;
      for (let i = 0; i < 100 && body === undefined; i++) {
        body = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.json(),
          () => undefined,
        );
        if (body === undefined) await new Promise((r) => setTimeout(r, 50));
      }
      expect(body).toEqual({ status: 'ok', function: fn });
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
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
