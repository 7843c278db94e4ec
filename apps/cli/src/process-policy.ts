import { createLogger, type Logger } from '@shelfsync/edge';

/**
 * Exit status of a process stopped by an error nothing handled (EX_SOFTWARE):
 * distinct from 1 (a failure to start) and 2 (a usage error).
 */
export const EXIT_UNHANDLED = 70;

/**
 * What stops a shelfsync process (docs/operations.md, "What stops a process"):
 * an exception or a rejected promise that nothing handled is a programming
 * error, after which the process's state cannot be trusted, so it is logged at
 * fatal and the process exits with EXIT_UNHANDLED for its supervisor to restart
 * it; a restart recovers from what is on disk. Input from the network never
 * gets here: every socket, parser and route handles its own errors.
 */
export function installProcessPolicy(
  log: Logger = createLogger('process'),
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  const stop = (error: unknown, origin: string): void => {
    // The logger writes synchronously, so the line is out before the exit.
    log.fatal({ err: error, origin }, 'unhandled error: stopping, the process state cannot be trusted');
    exit(EXIT_UNHANDLED);
  };
  process.on('uncaughtException', (error, origin) => stop(error, origin));
  process.on('unhandledRejection', (reason) => stop(reason, 'unhandledRejection'));
}
