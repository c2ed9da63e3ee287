import type { Command } from 'commander';
import * as Minio from 'minio';
import { parseConfig } from '../../../shared/config/load.ts';
import { minioAdminClient } from '../lib/minio-client.ts';
import { readStackFile, withLocalStack } from '../lib/stack-file.ts';

/** One queue configuration per suffix: MinIO filters allow a single suffix rule each. */
export function notificationFor(
  arn: string,
  prefix: string,
  suffixes: string[],
): Minio.NotificationConfig {
  const config = new Minio.NotificationConfig();
  for (const suffix of suffixes) {
    const queue = new Minio.QueueConfig(arn);
    queue.setId(`sluice${suffix.replace(/[^a-z0-9]/gi, '-')}`);
    queue.addEvent(Minio.ObjectCreatedAll);
    queue.addEvent(Minio.ObjectRemovedAll);
    if (prefix) queue.addFilterPrefix(prefix);
    queue.addFilterSuffix(suffix);
    config.add(queue);
  }
  return config;
}

/** `sluice minio setup`: applies the bucket notification and prints the target's server-side settings. */
export function register(program: Command): void {
  const minio = program.command('minio').description('MinIO integration');
  minio
    .command('setup')
    .description("point the bucket's notifications at the events function (uses MINIO_* settings)")
    .requiredOption(
      '--webhook-url <url>',
      'the events function URL MinIO will POST to, e.g. http://sluice-events.default.svc/minio-event',
    )
    .option('--target <name>', 'name of the webhook target in MinIO', 'sluice')
    .option('--region <region>', 'region part of the target ARN (empty for MinIO)', '')
    .action(async (opts: { webhookUrl: string; target: string; region: string }) => {
      const config = parseConfig(withLocalStack());
      const client = minioAdminClient(config);
      const arn = Minio.buildARN('minio', 'sqs', opts.region, opts.target, 'webhook');
      // The webhook target itself is server configuration (admin API); print the exact commands.
      process.stdout.write(
        [
          '# 1. Once, on the MinIO server (mc admin; the JS client has no admin API):',
          `mc admin config set <alias> notify_webhook:${opts.target} endpoint="${opts.webhookUrl}" auth_token="$SLUICE_WEBHOOK_TOKEN" queue_dir="/data/.minio-events" queue_limit="100000"`,
          'mc admin service restart <alias>',
          `# 2. The bucket notification (${arn}), applied now:`,
          '',
        ].join('\n'),
      );
      try {
        await client.setBucketNotification(
          config.s3.bucket,
          notificationFor(arn, config.s3.prefix, config.events.suffixes),
        );
      } catch (err) {
        if ((err as { code?: string }).code !== 'NotImplemented') throw err;
        // The local stack's S3 server has no notification API; its own relay posts the events.
        const local = readStackFile()?.s3.endpoint === config.s3.endpoint;
        process.stdout.write(
          local
            ? `the local stack's S3 server (${config.s3.endpoint}) has no bucket notifications: npm start relays its events to /minio-event itself, so there is nothing to set up here\n`
            : '',
        );
        if (local) return;
        throw new Error(
          `the object store at ${config.s3.endpoint} does not implement bucket notifications (NotImplemented): is it MinIO?`,
        );
      }
      process.stdout.write(
        `bucket ${config.s3.bucket}: ${config.events.suffixes.join(', ')} under '${config.s3.prefix}' -> ${arn}\n`,
      );
    });
}
