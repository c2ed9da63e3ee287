import { randomBytes } from 'node:crypto';
import { readFile, realpath, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import { parseConfig } from '../../../shared/config/load.ts';
import { silentLogger } from '../../../shared/log/logger.ts';
import { createServices } from '../../../shared/services.ts';
import { minioAdminClient } from '../lib/minio-client.ts';

/** Is the bucket's notification configured to reach the events function for the ingest suffixes? */
async function notificationCheck(
  config: ReturnType<typeof parseConfig>,
): Promise<[boolean, string]> {
  const client = minioAdminClient(config);
  let found: string;
  try {
    found = JSON.stringify(await client.getBucketNotification(config.s3.bucket));
  } catch (err) {
    // The local stack's S3 server has no notification API (the stack relays events itself).
    return [
      true,
      `not readable from this object store (${(err as Error).message.slice(0, 80)}); skipped`,
    ];
  }
  const missing = config.events.suffixes.filter((sfx) => !found.includes(`"${sfx}"`));
  if (!found.includes('Queue') || missing.length) {
    return [
      false,
      `no webhook rule for ${missing.join(', ') || 'any suffix'}: run sluice minio setup`,
    ];
  }
  return [true, `webhook rules for ${config.events.suffixes.join(', ')}`];
}

interface Check {
  check: string;
  ok: boolean;
  detail: string;
}

/** `sluice doctor`: is this machine's configuration able to work? `--compare`: are two roots one place? */
export function register(program: Command): void {
  program
    .command('doctor')
    .description('check configuration, storage backends, Postgres, the object store and clock skew')
    .option(
      '--compare <paths...>',
      'two roots (dev and prod) that must be the same physical directory',
    )
    .action(async (o: { compare?: string[] }) => {
      const checks: Check[] = [];
      const add = (check: string, ok: boolean, detail: string) =>
        checks.push({ check, ok, detail });
      if (o.compare) {
        if (o.compare.length !== 2) throw new Error('--compare takes two paths');
        const [a, b] = o.compare as [string, string];
        const [ra, rb] = await Promise.all([
          realpath(a).catch(() => undefined),
          realpath(b).catch(() => undefined),
        ]);
        add(`${a} resolves`, ra !== undefined, ra ?? 'does not exist');
        add(`${b} resolves`, rb !== undefined, rb ?? 'does not exist');
        add('same physical directory', ra !== undefined && ra === rb, `${ra} vs ${rb}`);
        if (ra && rb) {
          const name = `.sluice-doctor-${randomBytes(4).toString('hex')}`;
          const token = randomBytes(8).toString('hex');
          try {
            await writeFile(path.join(a, name), token);
            const seen = await readFile(path.join(b, name), 'utf8').catch(() => '');
            add(
              'a file written through the first is read through the second',
              seen === token,
              seen === token ? 'identical' : 'not visible',
            );
          } catch (err) {
            add('write through the first root', false, (err as Error).message);
          } finally {
            await rm(path.join(a, name), { force: true });
          }
        }
      } else {
        let config: ReturnType<typeof parseConfig> | undefined;
        try {
          config = parseConfig(process.env);
          add(
            'configuration',
            true,
            `${config.storage.length} storage backends, bucket ${config.s3.bucket}`,
          );
        } catch (err) {
          add('configuration', false, (err as Error).message);
        }
        if (config) {
          const services = createServices(config, { log: silentLogger });
          try {
            for (const b of config.storage) {
              const h = await services.storage.health(b.name).catch((err: Error) => ({
                exists: false,
                readable: false,
                writable: false,
                latencyMs: 0,
                error: err.message,
              }));
              add(
                `backend ${b.name}`,
                h.exists && h.readable && h.writable,
                `${h.exists ? 'exists' : 'missing'}, ${h.readable ? 'readable' : 'unreadable'}, ${h.writable ? 'writable' : 'read-only'}, ${h.latencyMs} ms${h.error ? `, ${h.error}` : ''}`,
              );
            }
            const t0 = Date.now();
            await services.db.query('SELECT 1').then(
              () => add('postgres', true, `${Date.now() - t0} ms`),
              (err: Error) => add('postgres', false, err.message),
            );
            try {
              const before = Date.now();
              const res = await fetch(`${config.s3.endpoint}/${config.s3.bucket}`, {
                method: 'HEAD',
              });
              const serverDate = Date.parse(res.headers.get('date') ?? '');
              const skewS = Number.isNaN(serverDate)
                ? undefined
                : Math.round(((before + Date.now()) / 2 - serverDate) / 1000);
              await services.s3.internal.send(new HeadBucketCommand({ Bucket: config.s3.bucket }));
              add(
                'object store',
                true,
                `bucket ${config.s3.bucket} reachable at ${config.s3.endpoint}`,
              );
              // SigV4 URLs are refused by the server beyond 15 minutes of skew; warn well before.
              add(
                'clock skew vs object store',
                skewS !== undefined && Math.abs(skewS) < 60,
                skewS === undefined ? 'no Date header' : `${skewS} s`,
              );
              add('bucket notification target', ...(await notificationCheck(config)));
            } catch (err) {
              add('object store', false, (err as Error).message);
            }
          } finally {
            await services.close();
          }
        }
      }
      const json = program.opts<{ json?: boolean }>().json;
      if (json)
        process.stdout.write(`${JSON.stringify({ ok: checks.every((c) => c.ok), checks })}\n`);
      else
        for (const c of checks)
          process.stdout.write(`${c.ok ? '[x]' : '[ ]'} ${c.check}: ${c.detail}\n`);
      if (!checks.every((c) => c.ok)) process.exitCode = 1;
    });
}
