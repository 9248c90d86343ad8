// Node's `onread` mode (reads go into the caller's buffer and to a callback, not to 'data') for sockets that already exist.
import net from 'node:net';
import type { Duplex } from 'node:stream';

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
 * Called with the bytes of each read, at the start of `buffer`. They are overwritten by the next
 * read: what must outlive the call is copied. Returning false pauses reading (`socket.resume()` goes on).
 */
export type OnRead = (bytes: number, buffer: Buffer) => boolean;

/**
 * Node's slots, found once on a socket created with `onread`: the same option cannot be given to
 * a socket that already exists (an accepted connection, a TLS server socket), so `readInto` sets them.
 */
const SLOTS: ReadBufferSlots | undefined = (() => {
  const probe = new net.Socket({ onread: { buffer: Buffer.alloc(1), callback: () => true } });
  const named = (d: string) => Object.getOwnPropertySymbols(probe).find((s) => s.description === d);
  const buffer = named('kBuffer');
  const callback = named('kBufferCb');
  const generator = named('kBufferGen');
  return buffer && callback && generator ? { buffer, callback, generator } : undefined;
})();

/** Whether this Node offers what `readInto` needs (tested on the pinned Node, so a change is seen). */
export const userReadBufferSupported = SLOTS !== undefined;

/** Whether `readInto` can take `socket` (a `net.Socket`): a TCP or TLS socket with its native handle, on a Node that allows it. */
export function canReadInto(socket: Duplex): boolean {
  const handle = (socket as { _handle?: Partial<UserBufferHandle> | null })._handle;
  return SLOTS !== undefined && socket instanceof net.Socket && typeof handle?.useUserBuffer === 'function';
}

/**
 * From now on `socket` reads into `buffer` (or what `next` returns after each read) and hands each
 * read to `onRead`; it emits no more 'data' events ('end', 'close' and 'error' are as usual). A later
 * call replaces the earlier one. The caller checked `canReadInto`.
 */
export function readInto(
  socket: net.Socket,
  buffer: Buffer,
  onRead: OnRead,
  next: (() => Buffer) | null,
): void {
  const slots = socket as unknown as Record<symbol, unknown>;
  const s = SLOTS!;
  slots[s.buffer] = buffer;
  slots[s.callback] = onRead;
  slots[s.generator] = next;
  (socket as unknown as { _handle: UserBufferHandle })._handle.useUserBuffer(buffer);
}
