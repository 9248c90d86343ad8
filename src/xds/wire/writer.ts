// Writes protobuf wire-format values into a growing buffer; fork()/ldelim() wrap what is written between them as one length-delimited value.

/** Room kept for a length prefix at fork(): a varint of up to 2^35. */
const PREFIX = 5;

export class WireWriter {
  private buf = Buffer.allocUnsafe(256);
  private pos = 0;
  /** Where each open fork's content starts (after its reserved prefix). */
  private readonly forks: number[] = [];

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** A field's key: its number and wire type. */
  tag(field: number, wireType: number): this {
    return this.uint32(((field << 3) | wireType) >>> 0);
  }

  uint32(value: number): this {
    this.room(5);
    let v = value >>> 0;
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
    return this;
  }

  /** A negative int32 is written as 10 bytes (sign-extended to 64 bits), as every protobuf encoder does. */
  int32(value: number): this {
    return value < 0 ? this.int64(value) : this.uint32(value);
  }

  sint32(value: number): this {
    return this.uint32(((value << 1) ^ (value >> 31)) >>> 0);
  }

  /** int64/uint64 from a Number (exact up to 2^53); negative values in two's complement. */
  int64(value: number): this {
    const [lo, hi] = split64(value);
    return this.rawVarint64(lo, hi);
  }

  sint64(value: number): this {
    const [lo, hi] = split64(value);
    const mask = hi >> 31;
    return this.rawVarint64(((lo << 1) ^ mask) >>> 0, (((hi << 1) | (lo >>> 31)) ^ mask) >>> 0);
  }

  private rawVarint64(lo: number, hi: number): this {
    this.room(10);
    while (hi > 0 || lo > 0x7f) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buf[this.pos++] = lo;
    return this;
  }

  bool(value: boolean): this {
    return this.uint32(value ? 1 : 0);
  }

  fixed32(value: number): this {
    this.room(4);
    this.pos = this.buf.writeUInt32LE(value >>> 0, this.pos);
    return this;
  }

  sfixed32(value: number): this {
    this.room(4);
    this.pos = this.buf.writeInt32LE(value | 0, this.pos);
    return this;
  }

  fixed64(value: number): this {
    const [lo, hi] = split64(value);
    return this.fixed32(lo).fixed32(hi);
  }

  float(value: number): this {
    this.room(4);
    this.pos = this.buf.writeFloatLE(value, this.pos);
    return this;
  }

  double(value: number): this {
    this.room(8);
    this.pos = this.buf.writeDoubleLE(value, this.pos);
    return this;
  }

  string(value: string): this {
    const length = Buffer.byteLength(value);
    this.uint32(length);
    this.room(length);
    this.pos += this.buf.write(value, this.pos, 'utf8');
    return this;
  }

  bytes(value: Uint8Array): this {
    this.uint32(value.length);
    this.room(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  /** Starts a length-delimited value: what is written until the matching ldelim(). */
  fork(): this {
    this.room(PREFIX);
    this.pos += PREFIX;
    this.forks.push(this.pos);
    return this;
  }

  /** Ends the value fork() started: writes its length before it. */
  ldelim(): this {
    const start = this.forks.pop();
    if (start === undefined) throw new Error('ldelim() without fork()');
    const length = this.pos - start;
    let prefix = 1;
    for (let v = length >>> 7; v > 0; v >>>= 7) prefix++;
    const at = start - PREFIX;
    this.buf.copyWithin(at + prefix, start, this.pos);
    this.pos = at;
    this.uint32(length);
    this.pos += length;
    return this;
  }

  /** The bytes written (a copy the writer no longer touches). */
  finish(): Buffer {
    if (this.forks.length > 0) throw new Error('finish() with an unclosed fork()');
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

/** A Number as the two 32-bit halves of its 64-bit two's complement form. */
function split64(value: number): [number, number] {
  const negative = value < 0;
  const abs = Math.abs(Math.trunc(value));
  let lo = abs >>> 0;
  let hi = Math.floor(abs / 4294967296) >>> 0;
  if (negative) {
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  return [lo, hi];
}
