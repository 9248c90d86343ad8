// The server name (SNI) and ALPN list of a TLS ClientHello, read from a connection's first bytes without consuming them.

/** What the bytes so far say about the ClientHello's server name and application protocols. */
export type SniResult =
  | { outcome: 'need_more' }
  /** `sni`/`alpn` are absent when the hello has none (or is not a parseable ClientHello). */
  | { outcome: 'done'; sni?: string; alpn?: string[] };

/** Envoy's tls_inspector gives up on ClientHellos larger than this. */
const MAX_CLIENT_HELLO = 64 * 1024;

/**
 * Reads the SNI `host_name` (lower-cased) and the ALPN protocol list of the ClientHello at the
 * start of `buf` (TLS records of type handshake, possibly several). Malformed input is `done`
 * without them.
 */
export function readSni(buf: Buffer): SniResult {
  // Reassemble the handshake message from as many handshake records as it spans.
  const parts: Buffer[] = [];
  let have = 0;
  let offset = 0;
  let needed = -1;
  while (needed < 0 || have < needed) {
    if (buf.length < offset + 5)
      return buf.length >= MAX_CLIENT_HELLO ? { outcome: 'done' } : { outcome: 'need_more' };
    if (buf[offset] !== 0x16) return { outcome: 'done' };
    const length = buf.readUInt16BE(offset + 3);
    if (buf.length < offset + 5 + length) return { outcome: 'need_more' };
    parts.push(buf.subarray(offset + 5, offset + 5 + length));
    have += length;
    offset += 5 + length;
    if (needed < 0) {
      const first = Buffer.concat(parts);
      if (first.length < 4) continue;
      if (first[0] !== 0x01) return { outcome: 'done' };
      needed = 4 + first.readUIntBE(1, 3);
      if (needed > MAX_CLIENT_HELLO) return { outcome: 'done' };
    }
  }
  const hello = Buffer.concat(parts).subarray(4, needed);
  const sni = extension(hello, 0, serverName);
  const alpn = extension(hello, 16, protocolNames);
  return { outcome: 'done', ...(sni === undefined ? {} : { sni }), ...(alpn === undefined ? {} : { alpn }) };
}

/** Reads extension `wanted` of a ClientHello body with `read` (its data, start and end), or undefined. */
function extension<T>(
  h: Buffer,
  wanted: number,
  read: (h: Buffer, p: number, end: number) => T | undefined,
): T | undefined {
  let p = 2 + 32; // client_version, random
  if (p + 1 > h.length) return undefined;
  p += 1 + h[p]; // session_id
  if (p + 2 > h.length) return undefined;
  p += 2 + h.readUInt16BE(p); // cipher_suites
  if (p + 1 > h.length) return undefined;
  p += 1 + h[p]; // compression_methods
  if (p + 2 > h.length) return undefined;
  const end = Math.min(h.length, p + 2 + h.readUInt16BE(p));
  p += 2;
  while (p + 4 <= end) {
    const type = h.readUInt16BE(p);
    const length = h.readUInt16BE(p + 2);
    p += 4;
    if (type === wanted) return p + length <= end && length >= 2 ? read(h, p, p + length) : undefined;
    p += length;
  }
  return undefined;
}

/** server_name_list: length, then entries of (type, length, name); the first host_name. */
function serverName(h: Buffer, p: number, end: number): string | undefined {
  let q = p + 2;
  const listEnd = Math.min(end, p + 2 + h.readUInt16BE(p));
  while (q + 3 <= listEnd) {
    const nameType = h[q];
    const nameLength = h.readUInt16BE(q + 1);
    q += 3;
    if (q + nameLength > listEnd) return undefined;
    if (nameType === 0) return h.toString('latin1', q, q + nameLength).toLowerCase();
    q += nameLength;
  }
  return undefined;
}

/** protocol_name_list: length, then entries of (length, name). */
function protocolNames(h: Buffer, p: number, end: number): string[] | undefined {
  const names: string[] = [];
  let q = p + 2;
  const listEnd = Math.min(end, p + 2 + h.readUInt16BE(p));
  while (q + 1 <= listEnd) {
    const length = h[q];
    q += 1;
    if (length === 0 || q + length > listEnd) return undefined;
    names.push(h.toString('latin1', q, q + length));
    q += length;
  }
  return names;
}
