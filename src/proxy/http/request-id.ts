// x-request-id values: random version-4 UUIDs built with one string allocation each.
import { randomFillSync } from 'node:crypto';

/** UUIDs drawn per refill of the random pool. */
const BATCH = 128;
const pool = Buffer.alloc(16 * BATCH);
let next = BATCH;
/** The 36 characters of one UUID, encoded here and sliced into a string once. */
const text = Buffer.from('00000000-0000-4000-8000-000000000000', 'latin1');
const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** Offset in `text` of each of the 16 bytes' two hex digits. */
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/**
 * A random (version 4, RFC 9562) UUID, like crypto.randomUUID() and from the same source
 * (batched randomFillSync), without the dozen intermediate strings its formatting makes.
 */
export function requestId(): string {
  if (next === BATCH) {
    randomFillSync(pool);
    next = 0;
  }
  const base = 16 * next++;
  for (let i = 0; i < 16; i++) {
    let b = pool[base + i];
    if (i === 6)
      b = (b & 0x0f) | 0x40; // version 4
    else if (i === 8) b = (b & 0x3f) | 0x80; // variant 10
    const at = AT[i];
    text[at] = HEX[b >> 4];
    text[at + 1] = HEX[b & 15];
  }
  return (text as Latin1Buffer).latin1Slice(0, 36);
}
