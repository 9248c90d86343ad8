// Decodes and encodes Envoy messages by the compact wire schema, in the plain object form protobufjs's toObject/fromObject use.
import { WireFormatError, WireReader } from './reader.ts';
import { type ScalarKind, type WireField, type WireType, wireEnum, wireType } from './schema.ts';
import { WireWriter } from './writer.ts';

/** How decoded objects look (the protobufjs conversion options weft uses). */
export interface DecodeOptions {
  /** `google.protobuf.Any` with a known type becomes its fields plus `'@type'` (protobufjs `json: true`); NaN and ±Infinity become strings. */
  json: boolean;
  /** bytes fields as base64 strings, or as Buffers (views of the input). */
  bytes: 'base64' | 'buffer';
  /** Repeated and map fields are always there, empty when absent (protobufjs `arrays`, `objects`). */
  emptyLists: boolean;
}

/** Nesting deeper than this is refused (protobufjs's recursion limit). */
const MAX_DEPTH = 100;
const ANY = 'google.protobuf.Any';
const GOOGLE_API = 'type.googleapis.com/';
const EMPTY = Buffer.alloc(0);

function mustType(fullName: string): WireType {
  const type = wireType(fullName);
  if (!type) throw new Error(`no message type ${fullName} in the Envoy wire schema`);
  return type;
}

/** Decodes `bytes` as the message `fullName` (no leading dot). */
export function decodeMessage(
  fullName: string,
  bytes: Uint8Array,
  options: DecodeOptions,
): Record<string, unknown> {
  const reader = new WireReader(bytes);
  return readMessage(mustType(fullName), reader, options, 0);
}

function readMessage(
  type: WireType,
  r: WireReader,
  o: DecodeOptions,
  depth: number,
): Record<string, unknown> {
  if (depth > MAX_DEPTH) throw new WireFormatError('maximum nesting depth exceeded');
  if (type.fullName === ANY && o.json) return readAny(type, r, o, depth);
  const values = new Map<WireField, unknown>();
  while (r.pos < r.end) {
    const tag = r.uint32();
    const field = type.byId.get(tag >>> 3);
    if (!field) {
      r.skip(tag & 7);
      continue;
    }
    if (field.map) readMapEntry(field, r, o, depth, values);
    else if (field.repeated) {
      let list = values.get(field) as unknown[] | undefined;
      if (!list) values.set(field, (list = []));
      if ((tag & 7) === 2 && field.kind !== 'message' && field.kind !== 'string' && field.kind !== 'bytes') {
        const end = within(r, () => {
          while (r.pos < r.end) list.push(readValue(field, r, o, depth));
        });
        r.pos = end;
      } else list.push(readValue(field, r, o, depth));
    } else values.set(field, readValue(field, r, o, depth));
  }
  return toObject(type, values, o);
}

/** An Any whose type the schema knows: that message's fields plus `'@type'`; else `{type_url, value}`. */
function readAny(any: WireType, r: WireReader, o: DecodeOptions, depth: number): Record<string, unknown> {
  const raw = readMessage(any, r, { ...o, json: false, bytes: 'buffer' }, depth);
  const url = raw.type_url as string | undefined;
  const slash = url ? url.lastIndexOf('/') : -1;
  const type = url ? wireType(url.slice(slash + 1)) : undefined;
  if (!type) {
    if (raw.value !== undefined && o.bytes === 'base64') raw.value = (raw.value as Buffer).toString('base64');
    return raw;
  }
  const object = readMessage(type, new WireReader((raw.value as Buffer | undefined) ?? EMPTY), o, depth + 1);
  object['@type'] = (slash >= 0 ? url!.slice(0, slash + 1) : GOOGLE_API) + type.fullName;
  return object;
}

/** The fields of a decoded message in id order (protobufjs's toObject order; lists first with `emptyLists`). */
function toObject(
  type: WireType,
  values: Map<WireField, unknown>,
  o: DecodeOptions,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o.emptyLists) {
    for (const f of type.fields) if (f.repeated) out[f.name] = [];
    for (const f of type.fields) if (f.map) out[f.name] = {};
  }
  for (const f of type.fields) {
    const v = values.get(f);
    if (v !== undefined) out[f.name] = v;
  }
  return out;
}

/** Runs `read` with the reader limited to the next length-delimited value; returns where that value ends. */
function within(r: WireReader, read: () => void): number {
  const [start, end] = r.delimited();
  const outer = r.end;
  r.pos = start;
  r.end = end;
  try {
    read();
    if (r.pos !== end) throw new WireFormatError('length-delimited value overruns its length');
  } finally {
    r.end = outer;
  }
  return end;
}

function readMapEntry(
  field: WireField,
  r: WireReader,
  o: DecodeOptions,
  depth: number,
  values: Map<WireField, unknown>,
): void {
  let map = values.get(field) as Record<string, unknown> | undefined;
  if (!map) values.set(field, (map = {}));
  let key: unknown = field.keyKind === 'string' ? '' : field.keyKind === 'bool' ? false : 0;
  let value: unknown;
  r.pos = within(r, () => {
    while (r.pos < r.end) {
      const tag = r.uint32();
      if (tag >>> 3 === 1) key = readScalar(field.keyKind, r, o);
      else if (tag >>> 3 === 2) value = readValue(field, r, o, depth);
      else r.skip(tag & 7);
    }
  });
  value ??= defaultValue(field, o);
  const name = LONG_KINDS.has(field.keyKind) ? longHash(key as number) : String(key);
  if (name === '__proto__')
    Object.defineProperty(map, name, { value, enumerable: true, writable: true, configurable: true });
  else map[name] = value;
}

const LONG_KINDS = new Set<ScalarKind>(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

/** A 64-bit map key as protobufjs names it: its 8 little-endian bytes as a string (util.longToHash). */
function longHash(n: number): string {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(n));
  return b.toString('latin1');
}

/** A map entry's value when the entry has none: the type's zero value. */
function defaultValue(field: WireField, o: DecodeOptions): unknown {
  if (field.kind === 'message') return {};
  if (field.kind === 'enum') return enumName(field, 0, o);
  if (field.kind === 'string') return '';
  if (field.kind === 'bytes') return o.bytes === 'base64' ? '' : Buffer.alloc(0);
  if (field.kind === 'bool') return false;
  return 0;
}

function readValue(field: WireField, r: WireReader, o: DecodeOptions, depth: number): unknown {
  if (field.kind === 'message') {
    const type = mustType(field.typeName);
    let message: Record<string, unknown> = {};
    r.pos = within(r, () => {
      message = readMessage(type, r, o, depth + 1);
    });
    return message;
  }
  if (field.kind === 'enum') return enumName(field, r.int32(), o);
  return readScalar(field.kind, r, o);
}

function enumName(field: WireField, n: number, _o: DecodeOptions): string | number {
  return wireEnum(field.typeName).get(n) ?? n;
}

function readScalar(kind: ScalarKind, r: WireReader, o: DecodeOptions): unknown {
  switch (kind) {
    case 'string':
      return r.string();
    case 'bytes': {
      const b = r.bytes();
      return o.bytes === 'base64' ? b.toString('base64') : b;
    }
    case 'bool':
      return r.bool();
    case 'uint32':
      return r.uint32();
    case 'int32':
      return r.int32();
    case 'sint32':
      return r.sint32();
    case 'fixed32':
      return r.fixed32();
    case 'sfixed32':
      return r.sfixed32();
    case 'int64':
      return r.int64(false);
    case 'uint64':
      return r.int64(true);
    case 'sint64':
      return r.sint64();
    case 'fixed64':
      return r.fixed64(true);
    case 'sfixed64':
      return r.fixed64(false);
    case 'float':
    case 'double': {
      const v = kind === 'float' ? r.float() : r.double();
      return o.json && !Number.isFinite(v) ? String(v) : v;
    }
  }
}

/**
 * Encodes a message given in protobufjs object form (`fromObject`: snake_case fields, enums as
 * names or numbers, bytes as Buffers or base64, an Any as `{type_url, value}` or `{'@type', ...}`).
 */
export function encodeMessage(fullName: string, object: Record<string, unknown>): Buffer {
  const w = new WireWriter();
  writeMessage(mustType(fullName), object, w, fullName);
  return w.finish();
}

function writeMessage(type: WireType, object: Record<string, unknown>, w: WireWriter, path: string): void {
  if (type.fullName === ANY && typeof object['@type'] === 'string') {
    const url = object['@type'];
    const { '@type': _, ...rest } = object;
    w.tag(1, 2).string(url);
    w.tag(2, 2).bytes(encodeMessage(url.slice(url.lastIndexOf('/') + 1), rest));
    return;
  }
  for (const f of type.fields) {
    const v = object[f.name];
    if (v === undefined || v === null) continue;
    const at = `${path}.${f.name}`;
    if (f.map) {
      if (typeof v !== 'object') throw new TypeError(`${at}: object expected`);
      for (const [key, value] of Object.entries(v as Record<string, unknown>)) {
        w.tag(f.id, 2).fork();
        writeScalar(
          w.tag(1, wireTypeOf(f.keyKind)),
          f.keyKind,
          f.keyKind === 'string' ? key : Number(key),
          at,
        );
        writeValue(w, f, 2, value, `${at}[${key}]`);
        w.ldelim();
      }
    } else if (f.repeated) {
      if (!Array.isArray(v)) throw new TypeError(`${at}: array expected`);
      if (v.length === 0) continue;
      if (f.packed && f.kind !== 'message' && f.kind !== 'string' && f.kind !== 'bytes') {
        w.tag(f.id, 2).fork();
        for (const item of v) writeScalar(w, scalarOf(f), item, at);
        w.ldelim();
      } else for (const item of v) writeValue(w, f, f.id, item, at);
    } else writeValue(w, f, f.id, v, at);
  }
}

function scalarOf(f: WireField): ScalarKind {
  return f.kind === 'enum' ? 'int32' : (f.kind as ScalarKind);
}

function writeValue(w: WireWriter, f: WireField, id: number, value: unknown, at: string): void {
  if (f.kind === 'message') {
    if (typeof value !== 'object' || value === null) throw new TypeError(`${at}: object expected`);
    w.tag(id, 2).fork();
    writeMessage(mustType(f.typeName), value as Record<string, unknown>, w, at);
    w.ldelim();
    return;
  }
  if (f.kind === 'enum') {
    const n = typeof value === 'number' ? value : enumNumber(f.typeName, value);
    if (n !== undefined) w.tag(id, 0).int32(n);
    return;
  }
  writeScalar(w.tag(id, wireTypeOf(f.kind)), f.kind, value, at);
}

/** The number of an enum value given by name (undefined for an unknown name: the field is left out, as protobufjs does). */
function enumNumber(typeName: string, name: unknown): number | undefined {
  for (const [n, v] of wireEnum(typeName)) if (v === name) return n;
  return undefined;
}

function wireTypeOf(kind: ScalarKind): number {
  switch (kind) {
    case 'string':
    case 'bytes':
      return 2;
    case 'fixed64':
    case 'sfixed64':
    case 'double':
      return 1;
    case 'fixed32':
    case 'sfixed32':
    case 'float':
      return 5;
    default:
      return 0;
  }
}

function writeScalar(w: WireWriter, kind: ScalarKind, v: unknown, at: string): void {
  switch (kind) {
    case 'string':
      w.string(String(v));
      return;
    case 'bytes':
      if (typeof v === 'string') w.bytes(Buffer.from(v, 'base64'));
      else if (v instanceof Uint8Array) w.bytes(v);
      else throw new TypeError(`${at}: bytes expected`);
      return;
    case 'bool':
      w.bool(Boolean(v));
      return;
    case 'uint32':
      w.uint32(Number(v) >>> 0);
      return;
    case 'int32':
      w.int32(Number(v) | 0);
      return;
    case 'sint32':
      w.sint32(Number(v) | 0);
      return;
    case 'fixed32':
      w.fixed32(Number(v) >>> 0);
      return;
    case 'sfixed32':
      w.sfixed32(Number(v) | 0);
      return;
    case 'int64':
    case 'uint64':
      w.int64(Number(v));
      return;
    case 'sint64':
      w.sint64(Number(v));
      return;
    case 'fixed64':
    case 'sfixed64':
      w.fixed64(Number(v));
      return;
    case 'float':
      w.float(Number(v));
      return;
    case 'double':
      w.double(Number(v));
      return;
  }
}
