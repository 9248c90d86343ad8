// The output side of an HTTP/2 connection: frames encoded into one scratch buffer beside body chunks (not copied), written once per tick with cork/uncork.
import type net from 'node:net';
import * as F from './frames.ts';
import { HpackEncoder } from './hpack.ts';

/** Scratch for frame headers, header blocks and small frames. */
const SCRATCH = 16 * 1024;
const EMPTY = Buffer.alloc(0);
/** Body chunks up to this size are copied next to their frame header (one iovec instead of two). */
const COPY_BELOW = 512;

export class FrameWriter {
  private readonly socket: net.Socket;
  readonly encoder = new HpackEncoder();
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  maxFrame = F.DEFAULT_MAX_FRAME;
  /** Pieces for the next flush, and the scratch region being filled. */
  private chunks: Buffer[] = [];
  /** Allocated at the first write (so that the field is not constant: release() empties it without deoptimizing code). */
  private scratch = EMPTY;
  private start = 0;
  private pos = 0;
  private scheduled = false;
  /**
   * The last frame in scratch when it is a small DATA frame that can still grow (at: its header's
   * offset, -1: none): the next small chunk of the same stream in this tick joins it, so a peer gets
   * one frame per tick and stream rather than one per message (as nghttp2 does).
   */
  private openData = -1;
  private openDataId = 0;
  /** The socket holds more than its high-water mark: writers wait for 'drain'. */
  full = false;
  /** Control frames (acks, resets) queued since the peer last read everything. */
  controlQueued = 0;

  constructor(socket: net.Socket) {
    this.socket = socket;
  }

  /** `n` bytes of scratch at the returned offset (the caller sets `pos` past what it wrote). */
  private reserve(n: number): number {
    if (this.scratch.length - this.pos < n) {
      this.cut();
      this.scratch = Buffer.allocUnsafe(Math.max(n, SCRATCH));
      this.start = 0;
      this.pos = 0;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flush);
    }
    return this.pos;
  }

  /** Ends the scratch piece being filled (what follows is a body chunk, or the flush). */
  private cut(): void {
    this.openData = -1;
    if (this.pos > this.start) {
      this.chunks.push(this.scratch.subarray(this.start, this.pos));
      this.start = this.pos;
    }
  }

  /** Reserves a frame with `length` bytes of payload in scratch; returns where the payload goes. */
  private frame(length: number, type: number, flags: number, id: number): number {
    const at = this.reserve(F.FRAME_HEADER + length);
    this.openData = -1;
    const b = this.scratch;
    b[at] = length >>> 16;
    b[at + 1] = (length >>> 8) & 0xff;
    b[at + 2] = length & 0xff;
    b[at + 3] = type;
    b[at + 4] = flags;
    b.writeUInt32BE(id, at + 5);
    this.pos = at + F.FRAME_HEADER + length;
    return at + F.FRAME_HEADER;
  }

  /** A header block as HEADERS (+ CONTINUATION when larger than the peer's frame size). */
  headers(id: number, headers: readonly string[], endStream: boolean): void {
    const at = this.reserve(F.FRAME_HEADER + HpackEncoder.bound(headers));
    const end = this.encoder.encode(headers, this.scratch, at + F.FRAME_HEADER);
    const block = this.scratch.subarray(at + F.FRAME_HEADER, end);
    const flags = endStream ? F.FLAG_END_STREAM : 0;
    if (block.length <= this.maxFrame) {
      this.pos = at;
      this.frame(block.length, F.HEADERS, flags | F.FLAG_END_HEADERS, id);
      return;
    }
    // Rare: split the block (copied out of scratch first).
    const copy = Buffer.from(block);
    this.pos = at;
    for (let p = 0; p < copy.length; p += this.maxFrame) {
      const n = Math.min(this.maxFrame, copy.length - p);
      const last = p + n >= copy.length ? F.FLAG_END_HEADERS : 0;
      const payload = this.frame(n, p === 0 ? F.HEADERS : F.CONTINUATION, (p === 0 ? flags : 0) | last, id);
      copy.copy(this.scratch, payload, p, p + n);
    }
  }

  /** One DATA frame with `chunk[from, from + n)` (n at most the peer's frame size). */
  data(id: number, chunk: Buffer, from: number, n: number, endStream: boolean): void {
    const flags = endStream ? F.FLAG_END_STREAM : 0;
    if (n < COPY_BELOW) {
      if (this.grow(id, chunk, from, n, flags)) return;
      const payload = this.frame(n, F.DATA, flags, id);
      chunk.copy(this.scratch, payload, from, from + n);
      if (!endStream) {
        this.openData = payload - F.FRAME_HEADER;
        this.openDataId = id;
      }
      return;
    }
    this.frame(0, F.DATA, flags, id);
    // The header said 0: fix the length, then the chunk goes by reference.
    const at = this.pos - F.FRAME_HEADER;
    this.scratch[at] = n >>> 16;
    this.scratch[at + 1] = (n >>> 8) & 0xff;
    this.scratch[at + 2] = n & 0xff;
    this.cut();
    this.chunks.push(from === 0 && n === chunk.length ? chunk : chunk.subarray(from, from + n));
  }

  /** Appends `chunk[from, from + n)` to the open DATA frame of stream `id` when it is last in scratch and has room. */
  private grow(id: number, chunk: Buffer, from: number, n: number, flags: number): boolean {
    const at = this.openData;
    if (at < 0 || this.openDataId !== id || this.scratch.length - this.pos < n) return false;
    const b = this.scratch;
    const length = (b[at] << 16) | (b[at + 1] << 8) | b[at + 2];
    if (length + n > this.maxFrame || at + F.FRAME_HEADER + length !== this.pos) return false;
    chunk.copy(b, this.pos, from, from + n);
    this.pos += n;
    const grown = length + n;
    b[at] = grown >>> 16;
    b[at + 1] = (grown >>> 8) & 0xff;
    b[at + 2] = grown & 0xff;
    b[at + 4] |= flags;
    if (flags !== 0) this.openData = -1;
    return true;
  }

  windowUpdate(id: number, increment: number): void {
    // frame() first: it may replace scratch (reading this.scratch first wrote into the old one).
    const payload = this.frame(4, F.WINDOW_UPDATE, 0, id);
    this.scratch.writeUInt32BE(increment, payload);
  }

  /** RST_STREAM; returns the control frames now queued. */
  reset(id: number, code: number): number {
    const payload = this.frame(4, F.RST_STREAM, 0, id);
    this.scratch.writeUInt32BE(code, payload);
    return ++this.controlQueued;
  }

  goaway(lastStreamId: number, code: number): void {
    const payload = this.frame(8, F.GOAWAY, 0, 0);
    this.scratch.writeUInt32BE(lastStreamId, payload);
    this.scratch.writeUInt32BE(code, payload + 4);
  }

  /** Our SETTINGS (id/value pairs). */
  settings(values: readonly number[]): void {
    let p = this.frame(values.length * 3, F.SETTINGS, 0, 0);
    for (let i = 0; i < values.length; i += 2) {
      this.scratch.writeUInt16BE(values[i], p);
      this.scratch.writeUInt32BE(values[i + 1], p + 2);
      p += 6;
    }
  }

  /** SETTINGS ack; returns the control frames now queued. */
  settingsAck(): number {
    this.frame(0, F.SETTINGS, F.FLAG_ACK, 0);
    return ++this.controlQueued;
  }

  /** PING ack echoing `payload[start, start + 8)`; returns the control frames now queued. */
  pingAck(payload: Buffer, start: number): number {
    const at = this.frame(8, F.PING, F.FLAG_ACK, 0);
    payload.copy(this.scratch, at, start, start + 8);
    return ++this.controlQueued;
  }

  /** PING (not an ack) carrying `payload` (8 bytes): a keepalive that the peer must echo. */
  ping(payload: Buffer): void {
    payload.copy(this.scratch, this.frame(8, F.PING, 0, 0), 0, 8);
  }

  /** Raw bytes ahead of everything else this tick (the client preface). */
  raw(bytes: Buffer): void {
    const at = this.reserve(bytes.length);
    bytes.copy(this.scratch, at);
    this.pos += bytes.length;
  }

  /** Writes everything queued this tick (one writev through cork/uncork). */
  readonly flush = (): void => {
    this.scheduled = false;
    this.cut();
    const chunks = this.chunks;
    const socket = this.socket;
    if (chunks.length === 0 || socket.destroyed) return;
    this.chunks = [];
    if (chunks.length === 1) socket.write(chunks[0]);
    else {
      socket.cork();
      for (let i = 0; i < chunks.length; i++) socket.write(chunks[i]);
      socket.uncork();
    }
    if (socket.writableNeedDrain) this.full = true;
    else this.controlQueued = 0;
  };

  /** The connection closed: drops the scratch and queued frames (the writer may stay referenced as a shape anchor). */
  release(): void {
    this.chunks.length = 0;
    this.scratch = EMPTY;
    this.start = 0;
    this.pos = 0;
  }

  /** The socket drained. */
  drained(): void {
    this.full = false;
    this.controlQueued = 0;
  }
}
