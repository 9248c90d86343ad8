// Structured logging for every weft process: one pino logger, level from --log-level or WEFT_LOG_LEVEL.
import { type Logger, pino } from 'pino';
import { environment } from '../env.ts';

export type { Logger };

/** The levels accepted by `--log-level`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

let root: Logger = pino(
  { level: environment.logLevel ?? 'info', base: { pid: process.pid } },
  pino.destination(2),
);

/** Replace the process logger's level (called once by the CLI after parsing flags). */
export function setLogLevel(level: string): void {
  root.level = level;
}

/** The process-wide logger, or a child with fixed fields such as `{ component: 'xds' }`. */
export function logger(bindings?: Record<string, unknown>): Logger {
  return bindings ? root.child(bindings) : root;
}

/** For tests: swap the root logger. */
export function setRootLogger(next: Logger): void {
  root = next;
}
