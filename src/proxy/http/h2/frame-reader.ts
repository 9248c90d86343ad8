// The input side of an HTTP/2 connection: the client preface, then whole frames cut from the socket's reads (a frame split across reads is joined once).
import * as F from './frames.ts';
import { H2_PREFACE } from './preface.ts';

/** Where whole frames go (the session). */
export interface FrameSink {
  /** One frame: its payload is `buf[start, end)`, a view of the read buffer (valid until the call returns unless kept). */
  frame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void;
  connectionError(code: number): void;
  readonly destroyed: boolean;
}

export class FrameReader {
  private readonly sink: FrameSink;
  /** Preface bytes still expected (a server reads the client's). */
  private prefaceLeft: number;
  /** A partial frame carried over from earlier reads. */
  private restParts: Buffer[] | null = null;
  private restLength = 0;

  constructor(sink: FrameSink, expectPreface: boolean) {
    this.sink = sink;
    this.prefaceLeft = expectPreface ? H2_PREFACE.length : 0;
  }

  /** The connection closed: drops a partial frame's bytes. */
  release(): void {
    // Only when there is one: a first store to a field that never changed would deoptimize code that relied on it.
    if (this.restParts !== null) this.restParts = null;
  }

  read(chunk: Buffer): void {
    let buf = chunk;
    if (this.prefaceLeft > 0) {
      const from = H2_PREFACE.length - this.prefaceLeft;
      const n = Math.min(this.prefaceLeft, buf.length);
      if (buf.compare(H2_PREFACE, from, from + n, 0, n) !== 0) {
        this.sink.connectionError(F.PROTOCOL_ERROR);
        return;
      }
      this.prefaceLeft -= n;
      if (n === buf.length) return;
      buf = buf.subarray(n);
    }
    if (this.restParts !== null) {
      const rest = this.completeFrame(buf);
      if (rest === null) return;
      buf = rest;
    }
    this.parse(buf, buf.length);
  }

  /** Completes the frame carried over with the first bytes of `buf`; returns the bytes after it (null: still partial). */
  private completeFrame(buf: Buffer): Buffer | null {
    const parts = this.restParts!;
    parts.push(buf);
    this.restLength += buf.length;
    if (this.restLength < F.FRAME_HEADER) return null;
    const head = parts[0].length >= F.FRAME_HEADER ? parts[0] : Buffer.concat(parts);
    const need = F.FRAME_HEADER + head.readUIntBE(0, 3);
    if (need > F.FRAME_HEADER + F.DEFAULT_MAX_FRAME) {
      this.sink.connectionError(F.FRAME_SIZE_ERROR);
      return null;
    }
    if (this.restLength < need) return null;
    const joined = parts.length === 1 ? parts[0] : Buffer.concat(parts, this.restLength);
    this.restParts = null;
    this.restLength = 0;
    this.parse(joined.subarray(0, need), need);
    return this.sink.destroyed ? null : joined.subarray(need);
  }

  private parse(buf: Buffer, length: number): void {
    const sink = this.sink;
    let p = 0;
    while (length - p >= F.FRAME_HEADER) {
      const len = (buf[p] << 16) | (buf[p + 1] << 8) | buf[p + 2];
      if (len > F.DEFAULT_MAX_FRAME) {
        sink.connectionError(F.FRAME_SIZE_ERROR);
        return;
      }
      if (length - p - F.FRAME_HEADER < len) break;
      const start = p + F.FRAME_HEADER;
      sink.frame(buf[p + 3], buf[p + 4], buf.readUInt32BE(p + 5) & 0x7fffffff, buf, start, start + len);
      if (sink.destroyed) return;
      p = start + len;
    }
    if (p < length) {
      this.restParts = [buf.subarray(p, length)];
      this.restLength = length - p;
    }
  }
}
