import type { Logger } from '../logger.js';

export interface ShutdownOptions {
  log: Logger;
  /** Logged with the reason when shutting down begins. */
  message: string;
  /** Past it the process exits with 1, whatever is still closing. */
  timeoutMs: number;
  /** Closes what the process runs; it exits once this resolves. */
  close: () => Promise<void>;
}

/**
 * How a tenantql process ends (the single process, a cluster's primary, each API worker): close
 * runs once however often shutdown is asked for (a signal, a message, a failed startup), then the
 * process exits with the first caller's code; with 1 if close throws or outlasts timeoutMs.
 */
export function createShutdown(
  options: ShutdownOptions,
): (reason: string, exitCode?: number) => Promise<void> {
  const { log, timeoutMs } = options;
  let stopping: Promise<void> | undefined;
  return (reason: string, exitCode = 0): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, options.message);
      setTimeout(() => {
        log.error('shutdown took too long; exiting anyway');
        process.exit(1);
      }, timeoutMs).unref();
      await options.close();
      process.exit(exitCode);
    })().catch((error: unknown) => {
      log.error({ err: error }, 'unclean shutdown');
      process.exit(1);
    });
    return stopping;
  };
}
