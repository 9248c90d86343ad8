// Fast 32-bit string hashing (murmur3) for consistent-hash load balancers and hash policies.

/** murmur3 x86 32-bit of a string's UTF-16 code units (stable, well mixed). */
export function hash32(input: string, seed = 0): number {
  let h = seed >>> 0;
  const len = input.length;
  let i = 0;
  for (; i + 1 < len; i += 2) {
    let k = (input.charCodeAt(i) & 0xffff) | ((input.charCodeAt(i + 1) & 0xffff) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < len) {
    let k = input.charCodeAt(i) & 0xffff;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Combines two hashes (for several hash_policy entries), as Envoy rotates and xors. */
export function combineHash(a: number, b: number): number {
  return (((a << 1) | (a >>> 31)) ^ b) >>> 0;
}
