// Envoy access log format strings (`%REQ(:METHOD)%`, `%RESPONSE_CODE%`, ...): compiled once into a line writer, TEXT or JSON.
import { hostname } from 'node:os';
import type { AccessLogEntry } from './entry.ts';

type Value = string | number | undefined;
type Operator = (e: AccessLogEntry) => Value;

/** An unknown or malformed command operator; the message names it. */
export class AccessLogFormatError extends Error {}

const HOST = hostname();

function text(v: string): string | undefined {
  return v === '' ? undefined : v;
}

function withoutPort(address: string): string | undefined {
  if (address === '') return undefined;
  const i = address.lastIndexOf(':');
  return i > 0 ? address.slice(0, i).replace(/^\[|\]$/g, '') : address;
}

/** Operators without arguments. */
const SIMPLE: Record<string, Operator> = {
  START_TIME: (e) => new Date(e.startTime).toISOString(),
  PROTOCOL: (e) => e.protocol,
  RESPONSE_CODE: (e) => e.responseCode,
  RESPONSE_FLAGS: (e) => e.responseFlags,
  RESPONSE_CODE_DETAILS: (e) => text(e.responseCodeDetails),
  CONNECTION_TERMINATION_DETAILS: () => undefined,
  UPSTREAM_TRANSPORT_FAILURE_REASON: () => undefined,
  BYTES_RECEIVED: (e) => e.bytesReceived,
  BYTES_SENT: (e) => e.bytesSent,
  DURATION: (e) => Math.round(e.durationMs),
  UPSTREAM_HOST: (e) => text(e.upstreamHost),
  UPSTREAM_CLUSTER: (e) => text(e.upstreamCluster),
  UPSTREAM_CLUSTER_RAW: (e) => text(e.upstreamCluster),
  UPSTREAM_LOCAL_ADDRESS: (e) => text(e.upstreamLocalAddress),
  DOWNSTREAM_LOCAL_ADDRESS: (e) => text(e.downstreamLocalAddress),
  DOWNSTREAM_REMOTE_ADDRESS: (e) => text(e.downstreamRemoteAddress),
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: (e) => text(e.downstreamRemoteAddress),
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: (e) => withoutPort(e.downstreamRemoteAddress),
  DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: (e) => withoutPort(e.downstreamLocalAddress),
  REQUESTED_SERVER_NAME: (e) => text(e.requestedServerName),
  ROUTE_NAME: (e) => text(e.routeName),
  DOWNSTREAM_PEER_URI_SAN: (e) => text(e.downstreamPeerUriSan),
  HOSTNAME: () => HOST,
};

/** `%REQ(X?Y):Z%` / `%RESP(X?Y):Z%`: a header, an alternative, and a maximum length. */
function headerOperator(op: 'REQ' | 'RESP', arg: string, max: number | undefined): Operator {
  const [main, alt] = arg.toLowerCase().split('?');
  if (!main) throw new AccessLogFormatError(`%${op}(...)% needs a header name`);
  const read =
    op === 'REQ'
      ? (e: AccessLogEntry, h: string) => e.requestHeader(h)
      : (e: AccessLogEntry, h: string) => e.responseHeader(h);
  return (e) => {
    const v = read(e, main) ?? (alt ? read(e, alt) : undefined);
    return v === undefined || max === undefined ? v : v.slice(0, max);
  };
}

const TOKEN = /%([A-Z_0-9]+)(?:\(([^)]*)\))?(?::(\d+))?%/g;

/** Compiles a format string into literal text and operators; throws AccessLogFormatError for an unknown operator. */
export function compileFormat(format: string): (string | Operator)[] {
  const parts: (string | Operator)[] = [];
  let at = 0;
  for (const m of format.matchAll(TOKEN)) {
    if (m.index > at) parts.push(format.slice(at, m.index));
    at = m.index + m[0].length;
    const [, name, arg, max] = m;
    if (name === 'REQ' || name === 'RESP') {
      parts.push(headerOperator(name, arg ?? '', max === undefined ? undefined : Number(max)));
      continue;
    }
    const op = SIMPLE[name];
    if (!op) throw new AccessLogFormatError(`unknown access log command operator %${name}%`);
    if (arg !== undefined)
      throw new AccessLogFormatError(`%${name}(${arg})%: weft supports %${name}% without arguments`);
    parts.push(op);
  }
  if (at < format.length) parts.push(format.slice(at));
  return parts;
}

/** A TEXT line writer: missing values are `-`, as in Envoy. */
export function textFormatter(format: string): (e: AccessLogEntry) => string {
  return textFormatterOf(compileFormat(format));
}

/**
 * A JSON line writer: one key per format string; a value that is a single operator keeps its
 * type (numbers for codes, bytes and durations; null when missing), as Envoy's json_format does.
 */
export function jsonFormatter(keys: Readonly<Record<string, string>>): (e: AccessLogEntry) => string {
  const fields = Object.entries(keys).map(([key, format]) => {
    const parts = compileFormat(format);
    const single = parts.length === 1 && typeof parts[0] !== 'string' ? (parts[0] as Operator) : undefined;
    const line = single ? undefined : textFormatterOf(parts);
    return { prefix: `${JSON.stringify(key)}:`, single, line };
  });
  return (e) => {
    let out = '{';
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      out += i === 0 ? f.prefix : `,${f.prefix}`;
      if (f.single) {
        const v = f.single(e);
        out += v === undefined || v === '' ? 'null' : typeof v === 'number' ? String(v) : JSON.stringify(v);
      } else out += JSON.stringify(f.line!(e));
    }
    return `${out}}\n`;
  };
}

function textFormatterOf(parts: (string | Operator)[]): (e: AccessLogEntry) => string {
  return (e) => {
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') out += p;
      else {
        const v = p(e);
        out += v === undefined || v === '' ? '-' : v;
      }
    }
    return out;
  };
}
