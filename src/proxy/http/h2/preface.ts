// The HTTP/2 connection preface (RFC 9113 3.4), shared by protocol detection and the connection manager.

/** The bytes a prior-knowledge HTTP/2 client sends first. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** True when `buf` starts with (a prefix of) the HTTP/2 preface and is long enough to tell. */
export function startsWithPreface(buf: Buffer): boolean {
  const n = Math.min(buf.length, H2_PREFACE.length);
  return n > 0 && buf.compare(H2_PREFACE, 0, n, 0, n) === 0;
}
