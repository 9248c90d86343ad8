// Reads protobuf wire-format values from a buffer: varints (as Numbers), fixed-width values, strings, bytes.

/** Thrown for bytes that are not a valid protobuf message. */
export class WireFormatError extends Error {}

const TWO_32 = 4294967296;

export class WireReader {
  readonly buf: Buffer;
  pos: number;
  /** Where the message being read ends. */
  end: number;
  /** The high 32 bits of the last varint read by `varint`. */
  private hi = 0;

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.end = this.buf.length;
  }

  /** A varint's low 32 bits (unsigned); its high bits are kept for `int64`/`uint64`. */
  private varint(): number {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireFormatError('truncated varint');
      const b = this.buf[this.pos++];
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi = (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      if (b < 0x80) {
        this.hi = hi >>> 0;
        return lo >>> 0;
      }
      shift += 7;
    }
    throw new WireFormatError('varint longer than 10 bytes');
  }

  uint32(): number {
    return this.varint();
  }

  int32(): number {
    return this.varint() | 0;
  }

  sint32(): number {
    const n = this.varint();
    return (n >>> 1) ^ -(n & 1);
  }

  /** int64/uint64 as a Number (exact up to 2^53, as protobufjs's `longs: Number`). */
  int64(unsigned: boolean): number {
    const lo = this.varint();
    return toNumber(lo, this.hi, unsigned);
  }

  sint64(): number {
    const lo = this.varint();
    const hi = this.hi;
    const mask = -(lo & 1);
    return toNumber(((lo >>> 1) | (hi << 31)) ^ mask, (hi >>> 1) ^ mask, false);
  }

  bool(): boolean {
    return this.varint() !== 0;
  }

  private need(n: number): number {
    const at = this.pos;
    if (at + n > this.end) throw new WireFormatError('truncated message');
    this.pos += n;
    return at;
  }

  fixed32(): number {
    return this.buf.readUInt32LE(this.need(4));
  }

  sfixed32(): number {
    return this.buf.readInt32LE(this.need(4));
  }

  fixed64(unsigned: boolean): number {
    const at = this.need(8);
    return toNumber(this.buf.readUInt32LE(at), this.buf.readUInt32LE(at + 4), unsigned);
  }

  float(): number {
    return this.buf.readFloatLE(this.need(4));
  }

  double(): number {
    return this.buf.readDoubleLE(this.need(8));
  }

  /** A length-delimited value's extent: [start, end). */
  delimited(): [number, number] {
    const length = this.varint();
    const start = this.need(length);
    return [start, start + length];
  }

  string(): string {
    const [start, end] = this.delimited();
    return this.buf.toString('utf8', start, end);
  }

  /** A view of the bytes (no copy). */
  bytes(): Buffer {
    const [start, end] = this.delimited();
    return this.buf.subarray(start, end);
  }

  /** Skips a value of this wire type (an unknown field). */
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.need(8);
        return;
      case 2:
        this.delimited();
        return;
      case 3:
        for (;;) {
          const tag = this.varint();
          if ((tag & 7) === 4) return;
          this.skip(tag & 7);
        }
      case 5:
        this.need(4);
        return;
      default:
        throw new WireFormatError(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }
}

/** A 64-bit two's complement integer (two 32-bit halves) as a Number. */
function toNumber(lo: number, hi: number, unsigned: boolean): number {
  if (!unsigned && hi >>> 31) {
    let l = (~lo + 1) >>> 0;
    let h = ~hi >>> 0;
    if (!l) h = (h + 1) >>> 0;
    l >>>= 0;
    return -(l + h * TWO_32);
  }
  return (lo >>> 0) + (hi >>> 0) * TWO_32;
}
