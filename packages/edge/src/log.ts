import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * A structured JSON logger (pino) on stderr, so stdout stays free for what a
 * command prints (a token, a URL). Level from SHELFSYNC_LOG_LEVEL, default info.
 * Secrets are redacted wherever they appear under these keys. `destination`
 * replaces stderr (a test reads the lines back).
 */
export function createLogger(
  name: string,
  bindings: Record<string, unknown> = {},
  destination: DestinationStream = pino.destination(2),
): Logger {
  return pino(
    {
      name,
      level: process.env.SHELFSYNC_LOG_LEVEL ?? 'info',
      base: { pid: process.pid, ...bindings },
      redact: {
        paths: ['secret', 'token', 'apiToken', '*.secret', '*.token', '*.apiToken', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
