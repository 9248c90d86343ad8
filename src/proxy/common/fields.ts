// Helpers to read decoded Envoy xDS messages (protobufjs toObject shape) and reject unknown fields.
import { UnsupportedFieldError } from '../../errors.ts';

/** A decoded protobuf message: camelCase fields, Any unpacked as `{'@type': url, ...}`. */
export type Msg = Record<string, unknown>;

/** True when a decoded field carries a value (protobufjs with `defaults: true` emits zero values). */
export function isSet(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === 0 || value === false) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object' && isLong(value)) return longToNumber(value) !== 0;
  return true;
}

function isLong(value: object): value is { low: number; high: number } {
  return 'low' in value && 'high' in value;
}

function longToNumber(value: { low: number; high: number }): number {
  return value.high * 4294967296 + (value.low >>> 0);
}

/**
 * Rejects a message that sets a field outside `supported` (fields weft implements) or
 * `ignored` (fields that change nothing observable, e.g. stat prefixes). `where` names the
 * message in the NACK, e.g. `Cluster outbound|80||a.default.svc.cluster.local`.
 */
export function checkFields(msg: Msg, where: string, supported: readonly string[]): void {
  for (const key of Object.keys(msg)) {
    if (key === '@type') continue;
    if (supported.includes(key)) continue;
    if (!isSet(msg[key])) continue;
    throw new UnsupportedFieldError(`${where}: field '${toSnake(key)}' is not supported by weft proxy`);
  }
}

/** camelCase → snake_case, so NACK reasons use the field names of the .proto files. */
export function toSnake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A number from a protobuf integer (number, decimal string or Long). */
export function num(value: unknown, fallback = 0): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return value === '' ? fallback : Number(value);
  if (typeof value === 'object' && isLong(value)) return longToNumber(value);
  return fallback;
}

/** The value of a wrapper message (`UInt32Value`, `BoolValue`, ...) or a bare scalar. */
export function wrapped(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && 'value' in value) return (value as Msg).value;
  return value;
}

/** A wrapper number (`{ value: 80 }`), or `fallback` when unset. */
export function wrappedNum(value: unknown, fallback: number): number {
  const v = wrapped(value);
  return v === undefined || v === null ? fallback : num(v, fallback);
}

/** A wrapper bool (`{ value: true }`), or `fallback` when unset. */
export function wrappedBool(value: unknown, fallback: boolean): boolean {
  const v = wrapped(value);
  return typeof v === 'boolean' ? v : fallback;
}

/** Milliseconds of a google.protobuf.Duration (`{seconds, nanos}` or `"1.5s"`), or `fallback`. */
export function durationMs(value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'string') {
    const m = /^(-?\d+(?:\.\d+)?)s$/.exec(value);
    return m ? Math.round(Number(m[1]) * 1000) : fallback;
  }
  if (typeof value === 'object') {
    const d = value as Msg;
    return num(d.seconds) * 1000 + Math.round(num(d.nanos) / 1e6);
  }
  return fallback;
}

/** A decoded sub-message, or undefined. */
export function msg(value: unknown): Msg | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Msg) : undefined;
}

/** A repeated message field as an array (absent → empty). */
export function list(value: unknown): Msg[] {
  return Array.isArray(value) ? (value as Msg[]) : [];
}

/** A string field (absent → ''). */
export function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Throws an UnsupportedFieldError naming the message and the reason. */
export function unsupported(where: string, what: string): never {
  throw new UnsupportedFieldError(`${where}: ${what} is not supported by weft proxy`);
}
