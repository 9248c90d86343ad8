// Logging for every weft process: one pino logger; readable lines on a terminal, JSON lines otherwise.
import { writeSync } from 'node:fs';
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

/** The format in force: `--log-format` can change it after loggers exist (the CLI sets it after parsing flags). */
let format: LogFormat = isLogFormat(environment.logFormat)
  ? environment.logFormat
  : process.stderr.isTTY
    ? 'text'
    : 'json';

/** Set once stderr is gone (EPIPE, EBADF): later lines are dropped, so a closed pipe never blocks a shutdown. */
let stderrGone = false;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of `text` to fd 2; a full pipe is retried for up to ~100 ms, then the line is dropped. */
function writeStderr(text: string): void {
  if (stderrGone) return;
  const bytes = Buffer.from(text);
  let offset = 0;
  let retries = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(2, bytes, offset);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN' && retries++ < 100) {
        Atomics.wait(pause, 0, 0, 1);
        continue;
      }
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') stderrGone = true;
      return;
    }
  }
}

/** pino's destination: each JSON line as it is, or as a readable line. */
const destination = {
  write(line: string): void {
    writeStderr(format === 'json' ? line : textLine(line));
  },
};

let root: Logger = pino({ level: environment.logLevel ?? 'info', base: { pid: process.pid } }, destination);

/** Replace the process logger's level (called once by the CLI after parsing flags). */
export function setLogLevel(level: string): void {
  root.level = level;
}

/** Choose the log format (`--log-format`); without it: text on a terminal, JSON otherwise. */
export function setLogFormat(next: LogFormat): void {
  format = next;
}

/** The format in force, so a command can hand it to the processes it starts. */
export function logFormat(): LogFormat {
  return format;
}

/** The process-wide logger, or a child with fixed fields such as `{ component: 'xds' }`. */
export function logger(bindings?: Record<string, unknown>): Logger {
  return bindings ? root.child(bindings) : root;
}

/** For tests: swap the root logger. */
export function setRootLogger(next: Logger): void {
  root = next;
}
