// Fast latin1 decoding of a buffer range, and encoding of message heads straight into one Buffer.

type Latin1Buffer = Buffer & {
  latin1Slice(start: number, end: number): string;
  latin1Write(s: string, offset: number, length: number): number;
};

/** `buf[start..end)` as a latin1 string. */
export function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as Latin1Buffer).latin1Slice(start, end);
}

/**
 * Writes `s` as latin1 (one byte per character, as `write(s, 'latin1')` does) into `buf` at `off`;
 * returns the offset after it. `buf` must have room. Short strings are copied in JavaScript, which
 * is cheaper than a call into C++ for the few bytes of a header name or value.
 */
export function putLatin1(buf: Buffer, off: number, s: string): number {
  const n = s.length;
  if (n > 48) return off + (buf as Latin1Buffer).latin1Write(s, off, n);
  for (let i = 0; i < n; i++) buf[off + i] = s.charCodeAt(i);
  return off + n;
}

/** Bytes `putHeaderLines` writes for a flat `[name, value, ...]` list. */
export function headerLinesLength(headers: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < headers.length; i++) n += headers[i].length;
  // ": " after each name and CRLF after each value.
  return n + 2 * headers.length;
}

/** Writes `name: value\r\n` for each pair of `headers` into `buf` at `off`; returns the offset after them. */
export function putHeaderLines(buf: Buffer, off: number, headers: readonly string[]): number {
  for (let i = 0; i < headers.length; i += 2) {
    off = putLatin1(buf, off, headers[i]);
    buf[off++] = 58; // ':'
    buf[off++] = 32;
    off = putLatin1(buf, off, headers[i + 1]);
    buf[off++] = 13;
    buf[off++] = 10;
  }
  return off;
}
