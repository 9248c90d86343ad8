// HPACK header compression (RFC 7541) for the proxy's HTTP/2 codec: a decoder with its dynamic table and Huffman, and an encoder that indexes repeated fields.
import { huffmanDecode } from './huffman.ts';

/** The static table (RFC 7541 Appendix A), index 1..61, as name/value pairs. */
const STATIC: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];
const DYNAMIC_BASE = STATIC.length + 1;

/** Static index of a name (its first entry), and of each full name+value pair. */
const STATIC_NAME = new Map<string, number>();
const STATIC_PAIR = new Map<string, Map<string, number>>();
for (let i = STATIC.length - 1; i >= 0; i--) {
  const [name, value] = STATIC[i];
  STATIC_NAME.set(name, i + 1);
  if (value === '') continue;
  const values = STATIC_PAIR.get(name) ?? new Map<string, number>();
  values.set(value, i + 1);
  STATIC_PAIR.set(name, values);
}

/** The default and our advertised SETTINGS_HEADER_TABLE_SIZE. */
export const HEADER_TABLE_SIZE = 4096;

/** Why a header block could not be decoded (a COMPRESSION_ERROR, which ends the connection). */
export const HPACK_ERROR = -1;

/**
 * Decodes header blocks of one connection. The decoded fields are appended to a flat
 * name/value list; names are as sent (the caller validates them).
 */
export class HpackDecoder {
  /** Dynamic table, oldest first (index 62 is the last element). */
  private readonly names: string[] = [];
  private readonly values: string[] = [];
  private size = 0;
  private maxSize = HEADER_TABLE_SIZE;
  /** Huffman output scratch, grown as needed. */
  private scratch = Buffer.allocUnsafe(1024);
  private pos = 0;
  private end = 0;
  private src: Buffer = this.scratch;

  /** The connection closed (nothing is decoded again): drops the table's strings and the last block read (a view of a socket read). */
  release(): void {
    this.names.length = 0;
    this.values.length = 0;
    this.src = this.scratch;
  }

  /**
   * Appends the fields of `block[start, end)` to `out`; returns the header list size as
   * SETTINGS_MAX_HEADER_LIST_SIZE counts it (name + value + 32 each), or HPACK_ERROR.
   */
  decode(block: Buffer, start: number, end: number, out: string[]): number {
    this.src = block;
    this.pos = start;
    this.end = end;
    let listSize = 0;
    let first = true;
    while (this.pos < end) {
      const b = block[this.pos];
      if (b & 0x80) {
        const index = this.integer(7);
        if (index <= 0 || !this.pushIndexed(index, out)) return HPACK_ERROR;
      } else if (b & 0x40) {
        if (!this.literal(6, out)) return HPACK_ERROR;
        this.insert(out[out.length - 2], out[out.length - 1]);
      } else if (b & 0x20) {
        // A dynamic table size update: only at the start of a block, never above our setting.
        const size = this.integer(5);
        if (!first || size < 0 || size > HEADER_TABLE_SIZE) return HPACK_ERROR;
        this.maxSize = size;
        this.evict(0);
        continue;
      } else if (!this.literal(4, out)) return HPACK_ERROR;
      first = false;
      listSize += out[out.length - 2].length + out[out.length - 1].length + 32;
    }
    return listSize;
  }

  private pushIndexed(index: number, out: string[]): boolean {
    if (index < DYNAMIC_BASE) {
      const entry = STATIC[index - 1];
      out.push(entry[0], entry[1]);
      return true;
    }
    const at = this.names.length - 1 - (index - DYNAMIC_BASE);
    if (at < 0) return false;
    out.push(this.names[at], this.values[at]);
    return true;
  }

  /** A literal field whose name index has a `prefix`-bit integer (0: the name follows as a string). */
  private literal(prefix: number, out: string[]): boolean {
    const index = this.integer(prefix);
    let name: string | null;
    if (index < 0) return false;
    if (index === 0) name = this.string();
    else {
      const n = out.length;
      if (!this.pushIndexed(index, out)) return false;
      name = out[n];
      out.length = n;
    }
    if (name === null) return false;
    const value = this.string();
    if (value === null) return false;
    out.push(name, value);
    return true;
  }

  /** An integer with a `prefix`-bit prefix (RFC 7541 5.1); -1 when truncated or too large. */
  private integer(prefix: number): number {
    const src = this.src;
    const max = (1 << prefix) - 1;
    let value = src[this.pos++] & max;
    if (value < max) return value;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end || shift > 21) return -1;
      const b = src[this.pos++];
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return value;
    }
  }

  /** A string literal (RFC 7541 5.2), Huffman-coded or not; null when malformed. */
  private string(): string | null {
    if (this.pos >= this.end) return null;
    const huffman = (this.src[this.pos] & 0x80) !== 0;
    const length = this.integer(7);
    const start = this.pos;
    if (length < 0 || start + length > this.end) return null;
    this.pos = start + length;
    if (!huffman) return this.src.toString('latin1', start, start + length);
    const need = Math.ceil((length * 8) / 5) + 1;
    if (this.scratch.length < need) this.scratch = Buffer.allocUnsafe(need * 2);
    return huffmanDecode(this.src, start, start + length, this.scratch);
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + 32;
    this.evict(size);
    if (size > this.maxSize) return;
    this.names.push(name);
    this.values.push(value);
    this.size += size;
  }

  /** Evicts the oldest entries until `room` more bytes fit (everything when it never can). */
  private evict(room: number): void {
    let drop = 0;
    while (drop < this.names.length && this.size + room > this.maxSize) {
      this.size -= this.names[drop].length + this.values[drop].length + 32;
      drop++;
    }
    if (drop > 0) {
      this.names.splice(0, drop);
      this.values.splice(0, drop);
    }
  }
}

/** Fields whose values change with every message: indexing them would only churn the table. */
const NOT_INDEXED = new Set([
  'content-length',
  'date',
  'grpc-timeout',
  'x-request-id',
  'traceparent',
  'tracestate',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'b3',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-attempt-count',
  'x-envoy-upstream-service-time',
  'x-forwarded-client-cert',
]);
/** Credentials never go into a table (RFC 7541 7.1.3: never-indexed literals). */
const SENSITIVE = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
/** A value longer than this is sent literally rather than indexed. */
const MAX_INDEXED_VALUE = 256;

/**
 * Encodes header blocks of one connection. Strings go out as plain octets (no Huffman: the CPU
 * matters more than the bytes on loopback and in-cluster links); repeated fields become one-byte
 * references to the dynamic table.
 */
export class HpackEncoder {
  /** Insertion number of each indexed value, by name (no string built per lookup). */
  private readonly seq = new Map<string, Map<string, number>>();
  /** The table's entries in insertion order, from `first` on. */
  private readonly names: string[] = [];
  private readonly values: string[] = [];
  private first = 0;
  private inserted = 0;
  private size = 0;
  private maxSize = HEADER_TABLE_SIZE;
  /** The peer lowered its table size: the next block starts with a size update. */
  private sizeUpdate = -1;

  /** The connection closed (nothing is encoded again): drops the table's strings. */
  release(): void {
    this.seq.clear();
    this.names.length = 0;
    this.values.length = 0;
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE (we never use more than the default). */
  setPeerTableSize(size: number): void {
    const next = Math.min(size, HEADER_TABLE_SIZE);
    if (next === this.maxSize) return;
    this.maxSize = next;
    this.sizeUpdate = next;
    this.evict(0);
  }

  /** An upper bound of the encoded size of `headers` (a flat name/value list). */
  static bound(headers: readonly string[]): number {
    let n = 8;
    for (let i = 0; i < headers.length; i++) n += headers[i].length + 6;
    return n;
  }

  /** Writes the block for `headers` into `out` at `at`; returns the end offset. */
  encode(headers: readonly string[], out: Buffer, at: number): number {
    let p = at;
    if (this.sizeUpdate >= 0) {
      p = writeInteger(out, p, 0x20, 5, this.sizeUpdate);
      this.sizeUpdate = -1;
    }
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      const value = headers[i + 1];
      const stat = STATIC_PAIR.get(name)?.get(value);
      if (stat !== undefined) {
        p = writeInteger(out, p, 0x80, 7, stat);
        continue;
      }
      const seq = this.seq.get(name)?.get(value);
      if (seq !== undefined) {
        p = writeInteger(out, p, 0x80, 7, DYNAMIC_BASE + this.inserted - 1 - seq);
        continue;
      }
      const nameIndex = STATIC_NAME.get(name) ?? 0;
      if (SENSITIVE.has(name)) p = writeInteger(out, p, 0x10, 4, nameIndex);
      else if (NOT_INDEXED.has(name) || value.length > MAX_INDEXED_VALUE)
        p = writeInteger(out, p, 0, 4, nameIndex);
      else {
        p = writeInteger(out, p, 0x40, 6, nameIndex);
        this.insert(name, value);
      }
      if (nameIndex === 0) p = writeString(out, p, name);
      p = writeString(out, p, value);
    }
    return p;
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + 32;
    this.evict(size);
    if (size > this.maxSize) return;
    let values = this.seq.get(name);
    if (values === undefined) {
      values = new Map();
      this.seq.set(name, values);
    }
    values.set(value, this.inserted++);
    this.names.push(name);
    this.values.push(value);
    this.size += size;
  }

  private evict(room: number): void {
    const names = this.names;
    const values = this.values;
    while (this.first < names.length && this.size + room > this.maxSize) {
      const name = names[this.first];
      const value = values[this.first];
      const byValue = this.seq.get(name);
      if (byValue?.delete(value) && byValue.size === 0) this.seq.delete(name);
      this.size -= name.length + value.length + 32;
      this.first++;
    }
    // Compact the queue now and then (entries before `first` are gone).
    if (this.first > 64 && this.first * 2 > names.length) {
      names.splice(0, this.first);
      values.splice(0, this.first);
      this.first = 0;
    }
  }
}

function writeInteger(out: Buffer, at: number, flags: number, prefix: number, value: number): number {
  const max = (1 << prefix) - 1;
  let p = at;
  if (value < max) {
    out[p++] = flags | value;
    return p;
  }
  out[p++] = flags | max;
  let rest = value - max;
  while (rest >= 0x80) {
    out[p++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  out[p++] = rest;
  return p;
}

function writeString(out: Buffer, at: number, s: string): number {
  const p = writeInteger(out, at, 0, 7, s.length);
  return p + out.write(s, p, 'latin1');
}
