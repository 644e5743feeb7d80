import pino, { type Logger } from 'pino';
import { activeTraceIds } from '../observability/traces';

export type { Logger };

export interface LoggerOptions {
  /** Lines for people (pino-pretty) instead of JSON: a developer's terminal. */
  pretty?: boolean;
}

/**
 * JSON lines, each with the trace and span of the work it belongs to (while tracing is on), so an
 * operator goes from a log line to its trace. `destination` defaults to stdout; tests pass a
 * stream to read the lines back.
 */
export function createLogger(level: string, bindings: Record<string, unknown> = {}, destination?: pino.DestinationStream, options: LoggerOptions = {}): Logger {
  const settings: pino.LoggerOptions = {
    level,
    base: { service: 'orderloop', ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: () => activeTraceIds() ?? {},
  };
  if (destination) return pino(settings, destination);
  if (options.pretty) return pino({ ...settings, transport: { target: 'pino-pretty', options: { ignore: 'pid,hostname,service', translateTime: 'SYS:HH:MM:ss.l' } } });
  return pino(settings);
}
