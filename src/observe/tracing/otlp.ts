// OTLP/protobuf encoding of ExportTraceServiceRequest for the proxy's spans (opentelemetry/proto/trace/v1), written field by field.
import { WireWriter as W } from '../../xds/wire/writer.ts';
import type { Span } from './span.ts';

// Wire types: 0 varint, 1 fixed64, 2 length-delimited.
const tag = (field: number, wire: number) => (field << 3) | wire;

function keyValue(w: W, field: number, key: string, value: string | number): void {
  w.uint32(tag(field, 2)).fork();
  w.uint32(tag(1, 2)).string(key);
  w.uint32(tag(2, 2)).fork(); // AnyValue
  if (typeof value === 'number') w.uint32(tag(3, 0)).int64(value);
  else w.uint32(tag(1, 2)).string(value);
  w.ldelim();
  w.ldelim();
}

function fixed64(w: W, field: number, ns: bigint): void {
  w.uint32(tag(field, 1));
  w.fixed32(Number(ns & 0xffffffffn));
  w.fixed32(Number(ns >> 32n));
}

function span(w: W, s: Span): void {
  w.uint32(tag(2, 2)).fork();
  w.uint32(tag(1, 2)).bytes(Buffer.from(s.traceId, 'hex'));
  w.uint32(tag(2, 2)).bytes(Buffer.from(s.spanId, 'hex'));
  if (s.traceState) w.uint32(tag(3, 2)).string(s.traceState);
  if (s.parentSpanId) w.uint32(tag(4, 2)).bytes(Buffer.from(s.parentSpanId, 'hex'));
  w.uint32(tag(5, 2)).string(s.name);
  w.uint32(tag(6, 0)).int32(s.kind);
  fixed64(w, 7, s.startNs);
  fixed64(w, 8, s.endNs);
  for (const [k, v] of s.attributes) keyValue(w, 9, k, v);
  if (s.error) {
    w.uint32(tag(15, 2)).fork();
    w.uint32(tag(3, 0)).int32(2); // STATUS_CODE_ERROR
    w.ldelim();
  }
  w.ldelim();
}

/** One request to the collector: the resource (service.name and the proxy's attributes) and its spans. */
export function encodeTraceRequest(resource: [string, string][], spans: readonly Span[]): Uint8Array {
  const w = new W();
  w.uint32(tag(1, 2)).fork(); // ResourceSpans
  w.uint32(tag(1, 2)).fork(); // Resource
  for (const [k, v] of resource) keyValue(w, 1, k, v);
  w.ldelim();
  w.uint32(tag(2, 2)).fork(); // ScopeSpans
  w.uint32(tag(1, 2)).fork(); // InstrumentationScope
  w.uint32(tag(1, 2)).string('weft');
  w.ldelim();
  for (const s of spans) span(w, s);
  w.ldelim();
  w.ldelim();
  return w.finish();
}
