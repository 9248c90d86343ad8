// Joins two sockets into a bidirectional byte pipe with backpressure and half-close in each direction.
import type { Duplex } from 'node:stream';

/** Called once when both directions are finished or either side failed. */
export type SpliceDone = (outcome: 'closed' | 'error') => void;

/**
 * Pipes `a` ⇄ `b`. `aHead` is written to `b` first (bytes already read from `a`), `bHead` to `a`.
 * An end from one side half-closes the other; an error or close destroys both.
 */
export function splice(a: Duplex, b: Duplex, aHead?: Buffer, bHead?: Buffer, done?: SpliceDone): void {
  if (aHead && aHead.length > 0) b.write(aHead);
  if (bHead && bHead.length > 0) a.write(bHead);
  let finished = false;
  const finish = (outcome: 'closed' | 'error') => {
    if (finished) return;
    finished = true;
    a.destroy();
    b.destroy();
    done?.(outcome);
  };
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => finish('error'));
  b.on('error', () => finish('error'));
  // When one side is gone, flush what is queued towards the other and then close it too.
  a.on('close', () => closeAfterFlush(b, finish));
  b.on('close', () => closeAfterFlush(a, finish));
  // pipe() ends the other side on 'end'. Both sockets are done when both have ended (nothing more
  // to read) and both have finished (everything written to them flushed): destroying on the two
  // 'end's alone drops what a slow reader has not taken yet (an HTTP/2 stream waiting for window).
  let pending = 4;
  const step = () => {
    if (--pending === 0) setImmediate(() => finish('closed'));
  };
  a.once('end', step);
  b.once('end', step);
  a.once('finish', step);
  b.once('finish', step);
  a.resume();
  b.resume();
}

function closeAfterFlush(s: Duplex, finish: (o: 'closed') => void): void {
  if (s.destroyed || s.writableFinished) {
    finish('closed');
    return;
  }
  s.once('finish', () => finish('closed'));
  s.end();
}

/** Size of a ReadForwarder's buffer: one read of Node's usual size. */
export const FORWARD_BUFFER_BYTES = 64 * 1024;

/**
 * Reads of one plaintext socket into a buffer it owns (`net.connect({ onread })`) instead of a new
 * ArrayBuffer per read, written on to a target. At bulk rates those per-read allocations are what
 * start the proxy's mark-compact collections, each of which marks its whole heap
 * (docs/design/tcp-read-buffers.md). A write that the kernel does not take at
 * once still refers to the buffer, so reading pauses until that write completes. The socket emits
 * no 'data' events; 'end', 'close' and 'error' are as usual (so `splice` still sees its end).
 */
export class ReadForwarder {
  /** Pass as `onread` when creating the socket; keep the socket paused until `attach`. */
  readonly onread: { buffer: Buffer; callback: (bytes: number, buffer: Uint8Array) => boolean };
  private source: Duplex | null = null;
  private target: Duplex | null = null;
  /** A write still holds the buffer: reading is paused until the target's queue is empty. */
  private waiting = false;

  constructor(bytes = FORWARD_BUFFER_BYTES) {
    this.onread = { buffer: Buffer.allocUnsafe(bytes), callback: (n) => this.onRead(n) };
  }

  /** Forwards what `source` (created with `this.onread`) reads to `target` from now on. */
  attach(source: Duplex, target: Duplex): void {
    this.source = source;
    this.target = target;
  }

  private onRead(bytes: number): boolean {
    const to = this.target;
    // Not attached yet (the socket was not kept paused) or the target is gone: dropped, as pipe() does.
    if (!to || to.destroyed || to.writableEnded) return true;
    to.write(this.onread.buffer.subarray(0, bytes), this.onWritten);
    if (to.writableLength === 0) return true;
    this.waiting = true;
    return false;
  }

  private readonly onWritten = (): void => {
    if (!this.waiting || (this.target?.writableLength ?? 0) > 0) return;
    this.waiting = false;
    this.source?.resume();
  };
}
