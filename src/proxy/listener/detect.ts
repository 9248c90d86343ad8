// Protocol detection on a connection's first bytes: TLS ClientHello, HTTP/2 preface, HTTP/1.x request line.
import { latin1 } from '../common/latin1.ts';
import { H2_PREFACE } from '../http/h2/preface.ts';

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

/** tchar (RFC 9110 5.6.2): ! # $ % & ' * + - . ^ _ ` | ~ DIGIT ALPHA. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TCHAR[c.charCodeAt(0)] = 1;

/** A request line's last word: `HTTP/d.d` after SP or HTAB; '' when there is none. */
const VERSION = /[ \t]HTTP\/(\d\.\d)\r?$/;

/**
 * Anything shaped like an HTTP request is classified as HTTP, so that the HTTP codec answers it
 * (400 for what it refuses) and it never reaches an app as opaque TCP past the HTTP filters:
 * a request line with any method token that ends in `HTTP/d.d` (lowercase methods, stray HTAB or
 * control bytes, bare-LF line ends), and an uppercase method followed by an origin-form target
 * without a version (HTTP/0.9). Other bytes are `raw`.
 */
function detectHttp1(buf: Buffer): Detected {
  let i = 0;
  const len = Math.min(buf.length, MAX_INSPECT);
  let upper = true;
  while (i < len && TCHAR[buf[i]] === 1) {
    if (!((buf[i] >= 65 && buf[i] <= 90) || buf[i] === 45 || buf[i] === 95)) upper = false;
    i++;
  }
  if (i === len) return buf.length >= MAX_INSPECT ? 'raw' : 'need_more';
  if (i === 0 || buf[i] !== 32) return 'raw';
  const originForm = upper && (buf.length <= i + 1 || buf[i + 1] === 47);
  const lf = buf.indexOf(10, i);
  if (lf < 0 || lf >= MAX_INSPECT) {
    if (buf.length >= MAX_INSPECT) return originForm ? 'http/1.1' : 'raw';
    // Without a version yet, only an uppercase method with an origin-form target is worth waiting for
    // past a byte that is not visible ASCII; anything else is told apart at once, as before.
    if (!originForm) for (let k = i + 1; k < len; k++) if (buf[k] < 32 || buf[k] > 126) return 'raw';
    return 'need_more';
  }
  const version = VERSION.exec(latin1(buf, i, lf));
  if (version) return version[1] === '1.0' ? 'http/1.0' : 'http/1.1';
  return originForm ? 'http/1.1' : 'raw';
}

/**
 * What to make of the bytes seen when the wait for more ends (listener-filter timeout or the
 * client's FIN). The start of a request line (`GE`, `GET /adm`) is HTTP: sent as opaque TCP, its
 * rest would reach the app past the HTTP filters. No bytes, or a partial TLS record, are `raw`.
 */
export function detectAtTimeout(buf: Buffer): Detected {
  if (buf.length === 0) return 'raw';
  const d = detectProtocol(buf);
  if (d !== 'need_more') return d;
  return buf[0] === 0x16 ? 'raw' : 'http/1.1';
}
