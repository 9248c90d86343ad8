// Joins two sockets into a bidirectional byte pipe with backpressure and half-close in each direction.
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { FORWARD_BUFFER_BYTES, ReadForwarder } from './read-forwarder.ts';

const EMPTY = Buffer.alloc(0);

/** A TLS socket delivers at most one record's plaintext per read. */
const TLS_RECORD_BYTES = 16 * 1024;

/** Called once when both directions are finished or either side failed. */
export type SpliceDone = (outcome: 'closed' | 'error') => void;

/**
 * Pipes `a` ⇄ `b`. `aHead` is written to `b` first (bytes already read from `a`), `bHead` to `a`.
 * An end from one side half-closes the other; an error or close destroys both. A socket side
 * that moves bulk data switches to reading into buffers of the connection's own (`ReadForwarder`).
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
  forward(a, b);
  forward(b, a);
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

/**
 * Bytes one direction moves through pipe() before its socket reads into buffers of its own: an
 * idle or chatty tunnel holds no buffer (Node allocates per read, cheap at low rates); a bulk one
 * stops allocating per read once it has shown it is bulk.
 */
export const OWN_BUFFERS_AFTER_BYTES = 1024 * 1024;

/** Everything `from` reads goes to `to`, and its end half-closes `to`. */
function forward(from: Duplex, to: Duplex): void {
  from.pipe(to);
  if (!ReadForwarder.canAdopt(from)) return;
  let seen = 0;
  const count = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen < OWN_BUFFERS_AFTER_BYTES) return;
    from.removeListener('data', count);
    // After this read's 'data' listeners (pipe() has written the chunk), not inside them.
    process.nextTick(() => ownBuffers(from, to));
  };
  from.on('data', count);
}

/** Switches `from` ⇒ `to` from pipe() to a ReadForwarder; bytes already read and not yet delivered go first. */
function ownBuffers(from: Duplex, to: Duplex): void {
  if (from.destroyed || to.destroyed) return;
  from.unpipe(to);
  // A TLS socket delivers one record per read: four of them gather into one write.
  const forwarder = new ReadForwarder({
    buffer: FORWARD_BUFFER_BYTES,
    read: from instanceof TLSSocket ? TLS_RECORD_BYTES : FORWARD_BUFFER_BYTES,
  });
  const early = forwarder.adopt(from, to) ?? EMPTY;
  if (early.length > 0) to.write(early);
  // As pipe() does: a source whose end was already seen ends `to` (once).
  const end = () => {
    if (!to.writableEnded) to.end();
  };
  if (from.readableEnded) process.nextTick(end);
  else from.once('end', end);
  from.resume();
}
