// Fast latin1 decoding of a buffer range (Buffer#latin1Slice skips toString's argument checks).

type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/** `buf[start..end)` as a latin1 string. */
export function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as Latin1Buffer).latin1Slice(start, end);
}
