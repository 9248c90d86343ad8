// Forwards what one socket reads to another through buffers the connection owns, instead of a new ArrayBuffer per read.
import net from 'node:net';
import type { Duplex, Writable } from 'node:stream';

/** Size of each read buffer: one read of Node's usual size (a TLS socket delivers at most 16 KiB per read). */
export const FORWARD_BUFFER_BYTES = 64 * 1024;

/** Node's own slots of a socket that reads into a caller's buffer (`net.Socket`'s `onread` option). */
interface ReadBufferSlots {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

/** What `useUserBuffer` needs from a socket's native handle (TCP and TLS handles have it). */
interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

/**
 * Node's slots, found once on a socket created with `onread`: the same option cannot be given to
 * a socket that already exists (an accepted connection, a TLS server socket), so `adopt` sets them.
 */
const SLOTS: ReadBufferSlots | undefined = (() => {
  const probe = new net.Socket({ onread: { buffer: Buffer.alloc(1), callback: () => true } });
  const named = (d: string) => Object.getOwnPropertySymbols(probe).find((s) => s.description === d);
  const buffer = named('kBuffer');
  const callback = named('kBufferCb');
  const generator = named('kBufferGen');
  return buffer && callback && generator ? { buffer, callback, generator } : undefined;
})();

/** Sockets adopted by a ReadForwarder. */
const ADOPTED = new WeakSet<Duplex>();

/**
 * Reads of a socket go into buffers this object owns and are written on to a target at once. At
 * bulk rates the per-read allocations of Node's own reads are what start the proxy's mark-compact
 * collections (docs/design/tcp-read-buffers.md). One buffer is reused while each write completes
 * at once (the kernel or OpenSSL took the bytes); a write that is queued keeps its buffer, reading
 * pauses until the target's queue is empty, and reads that still arrive meanwhile (a TLS socket
 * delivers every record it has decrypted) go to a spare buffer. The source emits no 'data'
 * events; 'end', 'close' and 'error' are as usual.
 */
export class ReadForwarder {
  private readonly size: number;
  private source: net.Socket | null = null;
  private target: Writable | null = null;
  /** Where the next read goes. */
  private current: Buffer;
  /** Whether a queued write still refers to `current`. */
  private currentHeld = false;
  /** Buffers no write refers to any more. */
  private readonly spare: Buffer[] = [];
  /** Buffers referred to by queued writes, with the number of the write that releases each. */
  private readonly held: { buffer: Buffer; write: number }[] = [];
  private writes = 0;
  private completed = 0;
  /** Reading is paused until the target's queue is empty. */
  private waiting = false;

  constructor(bytes = FORWARD_BUFFER_BYTES) {
    this.size = bytes;
    this.current = Buffer.allocUnsafe(bytes);
  }

  /** Whether this Node offers what `adopt` needs (tested on the pinned Node, so a change is seen). */
  static get supported(): boolean {
    return SLOTS !== undefined;
  }

  /** Whether `socket` reads into a ReadForwarder's buffers. */
  static owns(socket: Duplex): boolean {
    return ADOPTED.has(socket);
  }

  /** Whether `adopt` can take `source`: a TCP or TLS socket with its native handle, on a Node that allows it. */
  static canAdopt(source: Duplex): source is net.Socket {
    const handle = (source as { _handle?: Partial<UserBufferHandle> | null })._handle;
    return SLOTS !== undefined && source instanceof net.Socket && typeof handle?.useUserBuffer === 'function';
  }

  /**
   * Makes `source` (a TCP or TLS socket with its native handle) read into this forwarder's buffers
   * and write what it reads to `target`. Returns the bytes `source` had already read and not yet
   * delivered (to be written to `target` first), or undefined when `source` cannot be adopted (no
   * native handle, e.g. an HTTP/2 stream): then nothing changed and the caller pipes as usual.
   */
  adopt(source: Duplex, target: Writable): Buffer | undefined {
    const handle = (source as { _handle?: Partial<UserBufferHandle> | null })._handle;
    if (!SLOTS || !(source instanceof net.Socket) || typeof handle?.useUserBuffer !== 'function')
      return undefined;
    const buffered: Buffer[] = [];
    for (let chunk = source.read() as Buffer | null; chunk !== null; chunk = source.read() as Buffer | null)
      buffered.push(chunk);
    this.source = source;
    this.target = target;
    const slots = source as unknown as Record<symbol, unknown>;
    slots[SLOTS.buffer] = this.current;
    slots[SLOTS.callback] = this.onRead;
    slots[SLOTS.generator] = this.nextBuffer;
    handle.useUserBuffer(this.current);
    ADOPTED.add(source);
    return buffered.length === 1 ? buffered[0] : Buffer.concat(buffered);
  }

  private readonly onRead = (bytes: number): boolean => {
    const to = this.target;
    // The target is gone: dropped, as pipe() does.
    if (!to || to.destroyed || to.writableEnded) return true;
    this.writes++;
    to.write(this.current.subarray(0, bytes), this.onWritten);
    if (to.writableLength === 0) return true;
    this.currentHeld = true;
    this.held.push({ buffer: this.current, write: this.writes });
    this.waiting = true;
    return false;
  };

  /** Called by Node after each read: the buffer the next read goes to. */
  private readonly nextBuffer = (): Buffer => {
    if (this.currentHeld) {
      this.current = this.spare.pop() ?? Buffer.allocUnsafe(this.size);
      this.currentHeld = false;
    }
    return this.current;
  };

  private readonly onWritten = (): void => {
    this.completed++;
    while (this.held.length > 0 && this.held[0].write <= this.completed) {
      // `nextBuffer` moved reading off a held buffer right after the read that filled it.
      this.spare.push(this.held.shift()!.buffer);
    }
    if (!this.waiting || (this.target?.writableLength ?? 0) > 0) return;
    this.waiting = false;
    this.source?.resume();
  };
}
