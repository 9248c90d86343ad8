// HPACK's static Huffman code (RFC 7541 Appendix B): a decoder for header strings that peers compress.

/**
 * Code length in bits of each symbol 0..255 and EOS (256), as the RFC's table gives them. The code is
 * canonical (codes of one length are consecutive, in symbol order), so the lengths define it.
 */
export const LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28,
  28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7,
  8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19,
  13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13,
  28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21,
  22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23,
  22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25,
  25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

const EOS = 256;
const MAX_BITS = 30;

/** Canonical decoding tables: per length, the first code, how many codes, where they start in SYMBOLS. */
const FIRST = new Int32Array(MAX_BITS + 2);
const COUNT = new Int32Array(MAX_BITS + 2);
const OFFSET = new Int32Array(MAX_BITS + 2);
const SYMBOLS = new Uint16Array(257);
/** Codes of each symbol (for tests and the short-code table). */
export const CODES = new Uint32Array(257);
/** For the first 8 bits of a code: (symbol << 4) | length when the code is at most 8 bits long, else 0. */
const SHORT = new Uint16Array(256);

(function build(): void {
  for (const len of LENGTHS) COUNT[len]++;
  let code = 0;
  let offset = 0;
  for (let len = 1; len <= MAX_BITS; len++) {
    code = (code + COUNT[len - 1]) << 1;
    FIRST[len] = code;
    OFFSET[len] = offset;
    offset += COUNT[len];
  }
  const next = FIRST.slice();
  const fill = OFFSET.slice();
  for (let len = 1; len <= MAX_BITS; len++)
    for (let sym = 0; sym <= EOS; sym++)
      if (LENGTHS[sym] === len) {
        CODES[sym] = next[len]++;
        SYMBOLS[fill[len]++] = sym;
      }
  for (let sym = 0; sym < EOS; sym++) {
    const len = LENGTHS[sym];
    if (len > 8) continue;
    const base = CODES[sym] << (8 - len);
    for (let i = 0; i < 1 << (8 - len); i++) SHORT[base + i] = (sym << 4) | len;
  }
})();

/**
 * Decodes `src[start, end)` as Huffman-coded text into a latin1 string (header bytes as HTTP/2
 * carries them). Returns null for an invalid string: EOS inside it, or padding longer than 7 bits or
 * not all ones (RFC 7541 5.2).
 */
export function huffmanDecode(src: Buffer, start: number, end: number, out: Buffer): string | null {
  let n = 0;
  let acc = 0;
  let bits = 0;
  let code = 0;
  let len = 0;
  let i = start;
  for (;;) {
    // Symbol start with 8 bits at hand: one lookup for the common short codes.
    if (len === 0) {
      while (bits < 8 && i < end) {
        acc = ((acc << 8) | src[i++]) & 0xffff;
        bits += 8;
      }
      if (bits >= 8) {
        const entry = SHORT[(acc >>> (bits - 8)) & 0xff];
        if (entry !== 0) {
          out[n++] = entry >>> 4;
          bits -= entry & 15;
          continue;
        }
      }
    }
    if (bits === 0) {
      if (i >= end) break;
      acc = src[i++];
      bits = 8;
    }
    // One bit at a time through the canonical code (long codes, and the last bits of the string).
    bits--;
    code = (code << 1) | ((acc >>> bits) & 1);
    len++;
    const index = code - FIRST[len];
    if (index >= 0 && index < COUNT[len]) {
      const sym = SYMBOLS[OFFSET[len] + index];
      if (sym === EOS) return null;
      out[n++] = sym;
      code = 0;
      len = 0;
    } else if (len >= MAX_BITS) return null;
  }
  // Padding: at most 7 bits, all ones (the start of EOS).
  if (len > 7 || code !== (1 << len) - 1) return null;
  return out.toString('latin1', 0, n);
}
