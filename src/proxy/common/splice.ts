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
  let aEnded = false;
  let bEnded = false;
  // pipe() ends the other side on 'end'; when both directions have ended, both sockets are done.
  a.on('end', () => {
    aEnded = true;
    if (bEnded) setImmediate(() => finish('closed'));
  });
  b.on('end', () => {
    bEnded = true;
    if (aEnded) setImmediate(() => finish('closed'));
  });
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
