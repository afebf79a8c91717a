import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { traceLogFields } from './observability/tracing.js';

export type { Logger };

export interface LoggerOptions {
  /** Where lines go (tests capture them); stdout by default. */
  destination?: DestinationStream;
  /**
   * Human-readable lines instead of JSON. Defaults to on when stdout is a terminal outside
   * production, so `npm start` is readable and anything piped or collected gets JSON.
   */
  pretty?: boolean;
  /** The current trace and span ids on each line (trace_id, span_id), when tracing is on. */
  traceIds?: boolean;
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
    // Only when asked: pino calls a mixin for every line.
    ...(options.traceIds && { mixin: traceLogFields }),
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
