import { randomBytes } from 'node:crypto';
import { readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HeadBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import { parseConfig } from '../../../shared/config/load.ts';
import { silentLogger } from '../../../shared/log/logger.ts';
import { createServices } from '../../../shared/services.ts';
import { minioAdminClient } from '../lib/minio-client.ts';
import { s3Cause } from '../lib/s3-cause.ts';
import { withLocalStack } from '../lib/stack-file.ts';

/** Is the bucket's notification configured to reach the events function for the ingest suffixes? */
async function notificationCheck(config: ReturnType<typeof parseConfig>): Promise<Outcome> {
  const client = minioAdminClient(config);
  let found: string;
  try {
    found = JSON.stringify(await client.getBucketNotification(config.s3.bucket));
  } catch (err) {
    // The local stack's S3 server has no notification API (the stack relays events itself).
    return [
      'skipped',
      `not readable from this object store (${(err as Error).message.slice(0, 80)})`,
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

/** A check passes (true), fails (false) or could not be made here ('skipped'; not a failure). */
type Outcome = [boolean | 'skipped', string];

interface Check {
  check: string;
  ok: boolean;
  skipped?: true;
  detail: string;
}

/** Do two paths name one directory? Same real path, or the same device and inode (bind mounts). */
async function sameDirectory(a: string, b: string) {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  return sa.dev === sb.dev && sa.ino === sb.ino;
}

/**
 * HeadBucket answers a refusal without a body, so the SDK can only say `UnknownError`; a listing
 * carries the store's error code, which names the setting that is wrong.
 */
async function objectStoreCause(
  services: ReturnType<typeof createServices>,
  bucket: string,
  err: unknown,
): Promise<string> {
  try {
    await services.s3.internal.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }));
  } catch (listErr) {
    return s3Cause(listErr);
  }
  return s3Cause(err);
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
      const add = (check: string, ok: boolean | 'skipped', detail: string) =>
        checks.push(
          ok === 'skipped' ? { check, ok: true, skipped: true, detail } : { check, ok, detail },
        );
      if (o.compare) {
        if (o.compare.length !== 2) throw new Error('--compare takes two paths');
        const [a, b] = o.compare as [string, string];
        const [ra, rb] = await Promise.all([
          realpath(a).catch(() => undefined),
          realpath(b).catch(() => undefined),
        ]);
        add(`${a} resolves`, ra !== undefined, ra ?? 'does not exist');
        add(`${b} resolves`, rb !== undefined, rb ?? 'does not exist');
        if (!ra || !rb) {
          const missing = [ra ? undefined : a, rb ? undefined : b].filter(Boolean).join(' and ');
          add('same physical directory', 'skipped', `cannot compare: ${missing} does not exist`);
          add('a file written through the first is read through the second', 'skipped', 'as above');
        } else {
          // The probe is the proof; the path and inode say how the two are the same place.
          const name = `.sluice-doctor-${randomBytes(4).toString('hex')}`;
          const token = randomBytes(8).toString('hex');
          let seen: boolean | undefined;
          try {
            await writeFile(path.join(a, name), token);
            seen = (await readFile(path.join(b, name), 'utf8').catch(() => '')) === token;
          } catch (err) {
            add('write through the first root', false, (err as Error).message);
          } finally {
            await rm(path.join(a, name), { force: true });
          }
          const inode = await sameDirectory(ra, rb).catch(() => false);
          const how =
            ra === rb
              ? `both are ${ra}`
              : inode
                ? `${ra} and ${rb} are one directory (same device and inode: a bind mount or one filesystem mounted twice)`
                : seen
                  ? `${ra} and ${rb} are different mounts that show the same files (e.g. two NFS mounts of one export)`
                  : `${ra} and ${rb} are different directories`;
          add('same physical directory', ra === rb || inode || seen === true, how);
          if (seen !== undefined)
            add(
              'a file written through the first is read through the second',
              seen,
              seen ? 'identical' : 'not visible',
            );
        }
      } else {
        let config: ReturnType<typeof parseConfig> | undefined;
        try {
          config = parseConfig(withLocalStack());
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
              add('object store', false, await objectStoreCause(services, config.s3.bucket, err));
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
          process.stdout.write(
            `${c.skipped ? '[-]' : c.ok ? '[x]' : '[ ]'} ${c.check}: ${c.detail}${c.skipped ? ' (skipped)' : ''}\n`,
          );
      if (!checks.every((c) => c.ok)) process.exitCode = 1;
    });
}
