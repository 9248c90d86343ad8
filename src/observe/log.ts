// Logging for every weft process: one pino logger; readable lines on a terminal, JSON lines otherwise.
import { type Logger, pino } from 'pino';
import { environment } from '../env.ts';

export type { Logger };

/** The levels accepted by `--log-level`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** The formats accepted by `--log-format`: `text` (one readable line) or `json` (pino's JSON lines). */
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** Fields every line carries that the text format leaves out or prints in front. */
const FRAME_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'component']);

/** One pino JSON line as `HH:MM:SS.mmm LEVEL component: message key=value ...`. */
export function textLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = new Date(typeof entry.time === 'number' ? entry.time : Date.now());
  const clock = `${time.toTimeString().slice(0, 8)}.${String(time.getMilliseconds()).padStart(3, '0')}`;
  const level = (LEVEL_NAMES[entry.level as number] ?? String(entry.level)).padEnd(5);
  const component = typeof entry.component === 'string' ? `${entry.component}: ` : '';
  const fields: string[] = [];
  const message = typeof entry.msg === 'string' ? entry.msg : '';
  for (const [key, value] of Object.entries(entry)) {
    if (FRAME_FIELDS.has(key)) continue;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    // A value the message already says (`waiting for ... at URL (cause)`) is not repeated.
    if (typeof value === 'string' && value.length > 3 && message.includes(value)) continue;
    fields.push(`${key}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`);
  }
  return `${clock} ${level} ${component}${entry.msg ?? ''}${fields.length ? ` ${fields.join(' ')}` : ''}\n`;
}

/** True for a value `--log-format` and `WEFT_LOG_FORMAT` accept. */
export function isLogFormat(value: string | undefined): value is LogFormat {
  return (LOG_FORMATS as readonly (string | undefined)[]).includes(value);
}

const stderr = pino.destination(2);

/** Where pino writes: the format can change after loggers exist (the CLI sets it after parsing flags). */
const sink = {
  format: (isLogFormat(environment.logFormat)
    ? environment.logFormat
    : process.stderr.isTTY
      ? 'text'
      : 'json') as LogFormat,
  write(line: string): void {
    stderr.write(sink.format === 'json' ? line : textLine(line));
  },
};

let root: Logger = pino({ level: environment.logLevel ?? 'info', base: { pid: process.pid } }, sink);

/** Replace the process logger's level (called once by the CLI after parsing flags). */
export function setLogLevel(level: string): void {
  root.level = level;
}

/** Choose the log format (`--log-format`); without it: text on a terminal, JSON otherwise. */
export function setLogFormat(format: LogFormat): void {
  sink.format = format;
}

/** The format in force, so a command can hand it to the processes it starts. */
export function logFormat(): LogFormat {
  return sink.format;
}

/** The process-wide logger, or a child with fixed fields such as `{ component: 'xds' }`. */
export function logger(bindings?: Record<string, unknown>): Logger {
  return bindings ? root.child(bindings) : root;
}

/** For tests: swap the root logger. */
export function setRootLogger(next: Logger): void {
  root = next;
}
