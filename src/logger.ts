import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  /** Where lines go (tests capture them); stdout by default. */
  destination?: DestinationStream;
  /**
   * Human-readable lines instead of JSON. Defaults to on when stdout is a terminal outside
   * production, so `npm start` is readable and anything piped or collected gets JSON.
   */
  pretty?: boolean;
}

export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const usePretty =
    options.pretty ??
    (options.destination === undefined &&
      process.stdout.isTTY === true &&
      process.env.NODE_ENV !== 'production');
  const destination =
    options.destination ??
    (usePretty
      ? pretty({ colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' })
      : undefined);
  const settings = {
    level,
    base: undefined,
    redact: {
      paths: [
        'password',
        '*.password',
        'token',
        '*.token',
        'refreshToken',
        '*.refreshToken',
        'authorization',
        '*.authorization',
        'variables',
        '*.variables',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(settings, destination) : pino(settings);
}
