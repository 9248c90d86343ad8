// Forwards what one socket reads to another through buffers the connection owns, instead of a new ArrayBuffer per read.
import type net from 'node:net';
import type { Duplex, Writable } from 'node:stream';
import { canReadInto, readInto, userReadBufferSupported } from './user-read-buffer.ts';

/** Size of each read buffer: one read of Node's usual size, or four TLS records gathered into one write. */
export const FORWARD_BUFFER_BYTES = 64 * 1024;

/** Sockets adopted by a ReadForwarder. */
const ADOPTED = new WeakSet<Duplex>();

/** How a ReadForwarder sizes its buffers. */
export interface ForwardSizes {
  /** Bytes of each buffer. */
  buffer: number;
  /**
   * The most one read delivers (a TLS socket: one record's plaintext, 16 KiB). Smaller than
   * `buffer`, reads are gathered: each lands after the previous one and what one turn of the event
   * loop read goes on in one write, so the target sees a quarter of the writes (and syscalls).
   */
  read: number;
}

/**
 * Reads of a socket go into buffers this object owns and are written on to a target. At bulk rates
 * the per-read allocations of Node's own reads are what start the proxy's mark-compact collections
 * (docs/design/tcp-read-buffers.md). Reads land one after another in the current buffer; what has
 * gathered is written when the buffer has no room for another read, when the socket ends, and at
 * the end of the event loop's turn (setImmediate: every read the turn delivered is in). A buffer
 * is reused once no queued write refers to it; a write that is queued pauses reading until the
 * target's queue is empty, and reads that still arrive meanwhile (a TLS socket delivers every
 * record it has decrypted) land beside the queued bytes or in a spare buffer, never over them.
 * The source emits no 'data' events; 'end', 'close' and 'error' are as usual.
 */
export class ReadForwarder {
  private readonly sizes: ForwardSizes;
  private source: net.Socket | null = null;
  private target: Writable | null = null;
  /** Where reads land: `current[start, end)` is read and not yet written, the next read goes to `end`. */
  private current: Buffer;
  private start = 0;
  private end = 0;
  /** The number of the last write that refers to `current` and was queued (not taken at once). */
  private currentWrite = 0;
  /** Buffers no write refers to any more. */
  private readonly spare: Buffer[] = [];
  /** Buffers referred to by queued writes, with the number of the write that releases each. */
  private readonly held: { buffer: Buffer; write: number }[] = [];
  private writes = 0;
  private completed = 0;
  /** Reading is paused until the target's queue is empty. */
  private waiting = false;
  private flushScheduled = false;

  constructor(sizes: ForwardSizes = { buffer: FORWARD_BUFFER_BYTES, read: FORWARD_BUFFER_BYTES }) {
    if (sizes.read > sizes.buffer) throw new RangeError('a read cannot be larger than the buffer');
    this.sizes = sizes;
    this.current = Buffer.allocUnsafe(sizes.buffer);
  }

  /** Whether this Node offers what `adopt` needs (tested on the pinned Node, so a change is seen). */
  static get supported(): boolean {
    return userReadBufferSupported;
  }

  /** Whether `socket` reads into a ReadForwarder's buffers. */
  static owns(socket: Duplex): boolean {
    return ADOPTED.has(socket);
  }

  /** Whether `adopt` can take `source`: a TCP or TLS socket with its native handle, on a Node that allows it. */
  static canAdopt(source: Duplex): source is net.Socket {
    return canReadInto(source);
  }

  /**
   * Makes `source` (a TCP or TLS socket with its native handle) read into this forwarder's buffers
   * and write what it reads to `target`. Returns the bytes `source` had already read and not yet
   * delivered (to be written to `target` first), or undefined when `source` cannot be adopted (no
   * native handle, e.g. an HTTP/2 stream): then nothing changed and the caller pipes as usual.
   * Listeners of the source's 'end' run after the bytes read before it were written to `target`.
   */
  adopt(source: Duplex, target: Writable): Buffer | undefined {
    if (!ReadForwarder.canAdopt(source)) return undefined;
    const buffered: Buffer[] = [];
    for (let chunk = source.read() as Buffer | null; chunk !== null; chunk = source.read() as Buffer | null)
      buffered.push(chunk);
    this.source = source;
    this.target = target;
    readInto(source, this.current, this.onRead, this.nextBuffer);
    source.prependListener('end', this.flush);
    ADOPTED.add(source);
    return buffered.length === 1 ? buffered[0] : Buffer.concat(buffered);
  }

  /** Called by Node with the bytes one read put at `end`: false pauses reading. */
  private readonly onRead = (bytes: number): boolean => {
    this.end += bytes;
    if (this.current.length - this.end < this.sizes.read) {
      if (this.writeGathered()) this.waiting = true;
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    return !this.waiting;
  };

  /** Called by Node after each read: where the next read goes. */
  private readonly nextBuffer = (): Buffer => {
    if (this.current.length - this.end >= this.sizes.read) return this.current.subarray(this.end);
    // No room for another read (`onRead` wrote what was read): start again at the front of a
    // buffer no queued write refers to.
    if (this.currentWrite > this.completed) {
      this.held.push({ buffer: this.current, write: this.currentWrite });
      this.current = this.spare.pop() ?? Buffer.allocUnsafe(this.sizes.buffer);
    }
    this.start = 0;
    this.end = 0;
    return this.current;
  };

  /** Writes what has gathered (end of the loop's turn, or the source's end); a queued write pauses reading. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (!this.writeGathered() || this.waiting) return;
    this.waiting = true;
    this.source?.pause();
  };

  /** Writes `current[start, end)` to the target; true when the write was queued (not taken at once). */
  private writeGathered(): boolean {
    if (this.end === this.start) return false;
    const to = this.target;
    const chunk = this.current.subarray(this.start, this.end);
    this.start = this.end;
    // The target is gone: dropped, as pipe() does.
    if (!to || to.destroyed || to.writableEnded) return false;
    this.writes++;
    to.write(chunk, this.onWritten);
    if (to.writableLength === 0) return false;
    this.currentWrite = this.writes;
    return true;
  }

  private readonly onWritten = (): void => {
    this.completed++;
    while (this.held.length > 0 && this.held[0].write <= this.completed) {
      // `nextBuffer` moved reading off a held buffer once it was full.
      this.spare.push(this.held.shift()!.buffer);
    }
    if (!this.waiting || (this.target?.writableLength ?? 0) > 0) return;
    this.waiting = false;
    this.source?.resume();
  };
}
