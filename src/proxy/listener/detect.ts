// Protocol detection on a connection's first bytes: TLS ClientHello, HTTP/2 preface, HTTP/1.x request line.
import { latin1 } from '../common/latin1.ts';
import { H2_PREFACE } from '../http/connection-manager.ts';

/** What the first bytes say; `need_more` asks for another read. */
export type Detected = 'tls' | 'h2c' | 'http/1.1' | 'http/1.0' | 'raw' | 'need_more';

/** Envoy's http_inspector gives up looking for a request line after this many bytes. */
const MAX_INSPECT = 8192;

/** Classifies the bytes seen so far. */
export function detectProtocol(buf: Buffer): Detected {
  if (buf.length === 0) return 'need_more';
  // TLS record: handshake (22), version major 3.
  if (buf[0] === 0x16) {
    if (buf.length < 2) return 'need_more';
    if (buf[1] === 0x03) return 'tls';
  }
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (buf.compare(H2_PREFACE, 0, n, 0, n) === 0) return n === H2_PREFACE.length ? 'h2c' : 'need_more';
  return detectHttp1(buf);
}

function detectHttp1(buf: Buffer): Detected {
  // METHOD: 1+ uppercase token chars, then SP.
  let i = 0;
  const len = Math.min(buf.length, MAX_INSPECT);
  while (i < len && ((buf[i] >= 65 && buf[i] <= 90) || buf[i] === 45 || buf[i] === 95)) i++;
  if (i === len) return buf.length >= MAX_INSPECT ? 'raw' : 'need_more';
  if (i === 0 || buf[i] !== 32) return 'raw';
  const eol = buf.indexOf('\r\n', i);
  if (eol < 0) {
    if (buf.length >= MAX_INSPECT) return 'raw';
    // Target bytes must be visible ASCII until the version arrives.
    for (let k = i + 1; k < len; k++) if (buf[k] < 32 || buf[k] > 126) return 'raw';
    return 'need_more';
  }
  const line = latin1(buf, i + 1, eol);
  if (line.endsWith(' HTTP/1.1')) return 'http/1.1';
  if (line.endsWith(' HTTP/1.0')) return 'http/1.0';
  return 'raw';
}
