import * as Minio from 'minio';
import type { Config } from '../../../shared/config/load.ts';

/** A minio client for the admin endpoint (bucket notification calls), from the parsed settings. */
export function minioAdminClient(config: Config): Minio.Client {
  const url = new URL(config.s3.adminEndpoint);
  return new Minio.Client({
    endPoint: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    useSSL: url.protocol === 'https:',
    accessKey: config.s3.accessKey ?? '',
    secretKey: config.s3.secretKey ?? '',
    region: config.s3.region,
    pathStyle: true,
  });
}
