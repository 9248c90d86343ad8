// Trace context propagation: W3C traceparent/tracestate and B3 (x-b3-* and single `b3`), parsed and written.
import { randomFillSync } from 'node:crypto';

/** The trace a request belongs to, as its headers carry it. */
export interface TraceContext {
  /** 32 lower-case hex digits. */
  traceId: string;
  /** The caller's span (16 hex digits): the parent of the span this proxy starts. */
  spanId: string;
  /** The caller's sampling decision; undefined when it made none (B3 without the flag). */
  sampled: boolean | undefined;
  /** W3C tracestate, passed on untouched. */
  traceState: string | undefined;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZERO32 = '0'.repeat(32);
const ZERO16 = '0'.repeat(16);

/** `00-<trace-id>-<parent-id>-<flags>`; undefined when malformed or all-zero (W3C: ignore it). */
export function parseTraceparent(value: string | undefined, traceState?: string): TraceContext | undefined {
  if (value === undefined || value.length < 55) return undefined;
  const v = value.trim().toLowerCase();
  const [version, traceId, spanId, flags] = v.split('-');
  if (version === 'ff' || !/^[0-9a-f]{2}$/.test(version) || !/^[0-9a-f]{2}$/.test(flags ?? ''))
    return undefined;
  if (version === '00' && v.length !== 55) return undefined;
  if (!HEX32.test(traceId) || !HEX16.test(spanId) || traceId === ZERO32 || spanId === ZERO16)
    return undefined;
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1, traceState };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

/** B3 trace ids may be 16 hex digits: left-padded to 32. */
function b3TraceId(id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  const t = id.toLowerCase();
  if (HEX32.test(t) && t !== ZERO32) return t;
  if (HEX16.test(t) && t !== ZERO16) return ZERO16 + t;
  return undefined;
}

function b3Sampled(flag: string | undefined, debug?: string): boolean | undefined {
  if (debug === '1' || flag === 'd') return true;
  if (flag === '1' || flag === 'true') return true;
  if (flag === '0' || flag === 'false') return false;
  return undefined;
}

/** Single-header B3: `traceid-spanid[-sampled[-parentspanid]]` (a lone `0`/`1` carries no ids). */
export function parseB3Single(value: string | undefined): TraceContext | undefined {
  if (value === undefined) return undefined;
  const [trace, span, flag] = value.trim().split('-');
  const traceId = b3TraceId(trace);
  const spanId = span?.toLowerCase();
  if (traceId === undefined || spanId === undefined || !HEX16.test(spanId) || spanId === ZERO16)
    return undefined;
  return { traceId, spanId, sampled: b3Sampled(flag), traceState: undefined };
}

/** Multi-header B3: x-b3-traceid, x-b3-spanid, x-b3-sampled, x-b3-flags. */
export function parseB3Multi(get: (name: string) => string | undefined): TraceContext | undefined {
  const traceId = b3TraceId(get('x-b3-traceid'));
  const spanId = get('x-b3-spanid')?.toLowerCase();
  if (traceId === undefined || spanId === undefined || !HEX16.test(spanId) || spanId === ZERO16)
    return undefined;
  return {
    traceId,
    spanId,
    sampled: b3Sampled(get('x-b3-sampled'), get('x-b3-flags')),
    traceState: undefined,
  };
}

/** The incoming context: W3C first, then single B3, then multi-header B3 (Envoy's order). */
export function extractContext(get: (name: string) => string | undefined): TraceContext | undefined {
  return (
    parseTraceparent(get('traceparent'), get('tracestate')) ?? parseB3Single(get('b3')) ?? parseB3Multi(get)
  );
}

/** The headers that carry the context on: W3C, single B3 and multi-header B3, as Envoy writes them. */
export const PROPAGATION_HEADERS = [
  'traceparent',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
];

/** [name, value] pairs that make `spanId` the parent of the next hop (tracestate is left as it came). */
export function propagationHeaders(
  traceId: string,
  spanId: string,
  parentSpanId: string | undefined,
  sampled: boolean,
): string[] {
  const out = [
    'traceparent',
    formatTraceparent(traceId, spanId, sampled),
    'x-b3-traceid',
    traceId,
    'x-b3-spanid',
    spanId,
    'x-b3-sampled',
    sampled ? '1' : '0',
  ];
  if (parentSpanId !== undefined) out.push('x-b3-parentspanid', parentSpanId);
  return out;
}

// Random ids from a pooled buffer: one crypto call per 512 ids.
const POOL = Buffer.alloc(4096);
let poolAt = POOL.length;

function randomHex(bytes: number): string {
  if (poolAt + bytes > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  const hex = POOL.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  return hex;
}

export function newTraceId(): string {
  const id = randomHex(16);
  return id === ZERO32 ? newTraceId() : id;
}

export function newSpanId(): string {
  const id = randomHex(8);
  return id === ZERO16 ? newSpanId() : id;
}
