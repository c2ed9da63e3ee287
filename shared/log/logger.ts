import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths redacted from every log line, wherever they appear in logged objects. */
const redact = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  '*.secretKey',
  '*.jwtSecret',
  '*.bucketTokenSecret',
  '*.webhookToken',
  '*.token',
  'token',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'headers.authorization',
  '*.databaseUrl',
];

/** Creates the process logger: JSON to stdout and, when given, a copy appended to `file`. */
export function createLogger(opts: { level?: string; file?: string; name?: string } = {}): Logger {
  const options = {
    level: opts.level ?? 'info',
    name: opts.name,
    redact: { paths: redact, censor: '[redacted]' },
  };
  if (!opts.file) return pino(options);
  const streams = pino.multistream([
    { stream: process.stdout },
    { stream: pino.destination({ dest: opts.file, mkdir: true, sync: false }) },
  ]);
  return pino(options, streams);
}

/** A logger that drops everything; for tests and tools that print their own output. */
export const silentLogger: Logger = pino({ level: 'silent' });
