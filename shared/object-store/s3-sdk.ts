import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';

/** Anything that sends S3 commands: an SDK client or a {@link LazyS3Client}. */
export type S3Sender = Pick<S3Client, 'send'>;

/** The parts of the AWS SDK the functions use (S3 client, commands, multipart `Upload`). */
export type S3Sdk = typeof import('./s3-sdk-module.ts');

let sdk: Promise<S3Sdk> | undefined;

/**
 * Loads the AWS SDK on first use. It would be the largest part of a function bundle, and many requests
 * never reach the store (presigning is done without it), so a cold start does not pay for it: built
 * functions load it from a bundle of its own. Code that needs a command class writes
 * `const { HeadObjectCommand } = await loadS3Sdk();`.
 */
export function loadS3Sdk(): Promise<S3Sdk> {
  sdk ??= import('./s3-sdk-module.ts');
  return sdk;
}

/** Whether anything in this process has loaded the SDK yet (tests check that presigning never does). */
export function s3SdkLoaded(): boolean {
  return sdk !== undefined;
}

/**
 * An S3 client created on its first `send`, when the SDK is loaded. `send` behaves as the SDK's;
 * `client()` gives the SDK client itself for helpers that want one (multipart `Upload`, POST policies).
 */
export class LazyS3Client {
  readonly #config: S3ClientConfig;
  #client: S3Client | undefined;
  #creating: Promise<S3Client> | undefined;

  constructor(config: S3ClientConfig) {
    this.#config = config;
  }

  client(): Promise<S3Client> {
    this.#creating ??= loadS3Sdk().then(({ S3Client }) => {
      this.#client = new S3Client(this.#config);
      return this.#client;
    });
    return this.#creating;
  }

  // Typed as the SDK's own send, so callers get each command's output type.
  readonly send = ((command: never, options?: never) =>
    this.client().then((c) => c.send(command, options))) as unknown as S3Client['send'];

  /** Closes the client's sockets, if it was ever created. */
  destroy(): void {
    this.#client?.destroy();
  }
}
