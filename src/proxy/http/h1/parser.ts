// HTTP/1.1 message heads and body framing, parsed straight from socket buffers (no per-byte callbacks).
import { removeFlat } from '../../common/flat-list.ts';
import { latin1 } from '../../common/latin1.ts';
import type { RequestHead } from '../request-head.ts';

/** Outcome of parsing a head from the bytes received so far. */
export type HeadOutcome = 'complete' | 'incomplete' | 'invalid' | 'too_large';

import type { BodyFraming } from './body-reader.ts';

export { type BodyFraming, BodyReader } from './body-reader.ts';

/** Largest head accepted (Envoy's default max_request_headers_kb is 60). */
export const MAX_HEAD_BYTES = 60 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Framing facts a parser extracts while reading a head (hop-by-hop headers are not kept). */
export class HeadInfo {
  /** Bytes of the head including the final CRLFCRLF. */
  headLength = 0;
  framing: BodyFraming = 'none';
  contentLength = -1;
  /** The Connection header asked to close (or HTTP/1.0 without keep-alive). */
  close = false;
  /** Lowercased value of `Upgrade`, when `Connection: upgrade` came with it. */
  upgrade = '';
  /** `Expect: 100-continue` was sent. */
  expectContinue = false;
  /** Why the head is invalid, for the local reply. */
  error = '';
  /** Response status code. */
  status = 0;
  /** Response reason phrase. */
  reason = '';
  /** HTTP minor version (0 or 1). */
  minor = 1;
  /** Value of the Host header while parsing (kept out of the header list). */
  host: string | undefined = undefined;

  reset(): void {
    this.headLength = 0;
    this.framing = 'none';
    this.contentLength = -1;
    this.close = false;
    this.upgrade = '';
    this.expectContinue = false;
    this.error = '';
    this.status = 0;
    this.reason = '';
    this.minor = 1;
    this.host = undefined;
  }
}

/** tchar (RFC 9110 5.6.2): ! # $ % & ' * + - . ^ _ ` | ~ DIGIT ALPHA. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TCHAR[c.charCodeAt(0)] = 1;

function isToken(s: string): boolean {
  return isTokenRange(s, 0, s.length);
}

function isTokenRange(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TCHAR[c] === 0) return false;
  }
  return true;
}

/**
 * Lowercase header names common enough that a head names them in most requests or responses,
 * by length: a name matching one (in any case) is taken from here instead of being sliced and
 * lowercased, which saves two strings per header line.
 */
const KNOWN_NAMES: string[][] = [];
for (const name of [
  'host',
  'date',
  'server',
  'accept',
  'cookie',
  'expect',
  'upgrade',
  'x-b3-spanid',
  'connection',
  'keep-alive',
  'user-agent',
  'set-cookie',
  'content-type',
  'x-request-id',
  'cache-control',
  'authorization',
  'last-modified',
  'accept-encoding',
  'accept-language',
  'content-length',
  'x-b3-traceid',
  'x-b3-sampled',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-envoy-attempt-count',
  'x-envoy-upstream-service-time',
  'transfer-encoding',
  'proxy-connection',
  'content-encoding',
  'traceparent',
  'etag',
  'vary',
  'location',
]) {
  const list = KNOWN_NAMES[name.length] ?? [];
  list.push(name);
  KNOWN_NAMES[name.length] = list;
}

/** The lowercase name `text[from..to)` spells in any case, when it is a known name; else undefined. */
function knownName(text: string, from: number, to: number): string | undefined {
  const list = KNOWN_NAMES[to - from];
  if (list === undefined) return undefined;
  next: for (let k = 0; k < list.length; k++) {
    const name = list[k];
    // OR 0x20 lowercases A-Z; for the letters and '-' of these names nothing else maps onto them
    // (CR, the only byte that maps onto '-', cannot be inside a line).
    for (let i = 0; i < name.length; i++)
      if ((text.charCodeAt(from + i) | 0x20) !== name.charCodeAt(i)) continue next;
    return name;
  }
  return undefined;
}

/**
 * Parses header lines `text[from..]` into `out` (lowercase names, hop-by-hop and framing
 * headers consumed into `info`). Returns false when a line is malformed.
 */
function parseHeaderLines(text: string, from: number, out: string[], info: HeadInfo): boolean {
  let pos = from;
  let connection = '';
  let upgrade = '';
  let te = '';
  const len = text.length;
  while (pos < len) {
    let eol = text.indexOf('\r', pos);
    if (eol < 0) eol = len;
    // The first CR must end the line (CRLF) and no bare LF may come before it.
    const nl = text.indexOf('\n', pos);
    if (eol < len ? text.charCodeAt(eol + 1) !== 10 || nl !== eol + 1 : nl >= 0) {
      info.error = 'invalid header value';
      return false;
    }
    const start = pos;
    pos = eol + 2;
    if (eol === start) continue;
    const colon = text.indexOf(':', start);
    if (colon <= start || colon > eol) {
      info.error = 'malformed header line';
      return false;
    }
    const c0 = text.charCodeAt(start);
    if (c0 === 32 || c0 === 9) {
      info.error = 'obsolete header line folding';
      return false;
    }
    if (!isTokenRange(text, start, colon)) {
      info.error = 'invalid header name';
      return false;
    }
    const name = knownName(text, start, colon) ?? text.slice(start, colon).toLowerCase();
    // Optional whitespace (SP, HTAB) around the value is skipped before slicing: one string, not two.
    let vs = colon + 1;
    let ve = eol;
    while (vs < ve && isOws(text.charCodeAt(vs))) vs++;
    while (ve > vs && isOws(text.charCodeAt(ve - 1))) ve--;
    // Framing and hop-by-hop values are read in place; the common ones never become strings.
    switch (name) {
      case 'content-length': {
        const n = digits(text, vs, ve);
        if (n < 0) {
          info.error = 'invalid content-length';
          return false;
        }
        if (info.contentLength >= 0 && info.contentLength !== n) {
          info.error = 'conflicting content-length';
          return false;
        }
        info.contentLength = n;
        continue;
      }
      case 'transfer-encoding': {
        const v = lowerValue(text, vs, ve, 'chunked');
        te = te === '' ? v : `${te},${v}`;
        continue;
      }
      case 'connection': {
        const v = lowerValue(text, vs, ve, 'keep-alive', 'close');
        connection = connection === '' ? v : `${connection},${v}`;
        continue;
      }
      case 'keep-alive':
      case 'proxy-connection':
        continue;
    }
    const value = text.slice(vs, ve);
    switch (name) {
      case 'upgrade':
        upgrade = value;
        continue;
      case 'host':
        if (info.host !== undefined && info.host !== value) {
          info.error = 'multiple host headers';
          return false;
        }
        info.host = value;
        continue;
      case 'expect':
        if (value.toLowerCase() === '100-continue') {
          info.expectContinue = true;
          continue;
        }
        break;
    }
    out.push(name, value);
  }
  if (te !== '') {
    if (te !== 'chunked') {
      info.error = te.endsWith('chunked') ? 'unsupported transfer-encoding' : 'unsupported transfer-encoding';
      return false;
    }
    if (info.contentLength >= 0) {
      info.error = 'both content-length and transfer-encoding';
      return false;
    }
    info.framing = 'chunked';
  } else if (info.contentLength > 0) info.framing = 'length';
  if (connection !== '') {
    if (connection.includes('close')) info.close = true;
    else if (info.minor === 0 && connection.includes('keep-alive')) info.close = false;
    // `Upgrade: h2c` (curl --http2 on http://) is dropped, as Envoy does: the request is served as HTTP/1.1.
    if (upgrade !== '' && connection.includes('upgrade') && upgrade.toLowerCase() !== 'h2c')
      info.upgrade = upgrade.toLowerCase();
    if (upgrade.toLowerCase() === 'h2c') removeFlat(out, 'http2-settings');
    // Other headers named in Connection are hop-by-hop too (RFC 9110 7.6.1).
    if (connection !== 'close' && connection !== 'keep-alive' && connection !== 'upgrade') {
      for (const token of connection.split(',')) {
        const t = token.trim();
        if (t !== '' && t !== 'close' && t !== 'keep-alive' && t !== 'upgrade') removeFlat(out, t);
      }
    }
  }
  return true;
}

/** The decimal number `text[from..to)` spells, or -1 when it is empty, not all digits or too large. */
function digits(text: string, from: number, to: number): number {
  if (to <= from) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
    if (n > Number.MAX_SAFE_INTEGER) return -1;
  }
  return n;
}

/**
 * Control bytes a head may not hold anywhere: CR and LF appear only as CRLF line ends (checked
 * line by line) and HTAB only inside header values (names, method and target are checked apart).
 */
const CONTROL = new Uint8Array(256);
for (let c = 0; c < 32; c++) if (c !== 9 && c !== 10 && c !== 13) CONTROL[c] = 1;
CONTROL[127] = 1;

/**
 * Why the head `buf[0..end)` (its text `text`) is malformed at the byte level, or ''. A table
 * lookup per byte: several times cheaper than a regex over the latin1 string.
 */
function headBytesError(buf: Buffer, end: number, text: string, firstLineEnd: number): string {
  for (let i = 0; i < end; i++) if (CONTROL[buf[i]] === 1) return 'control character in head';
  const lf = text.indexOf('\n');
  if (lf >= 0 && lf !== firstLineEnd + 1) return 'bare LF in head';
  return '';
}

/** True when `buf` holds an LF that no CR precedes (a head with bare-LF line ends). */
function hasBareLf(buf: Buffer): boolean {
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1))
    if (i === 0 || buf[i - 1] !== 13) return true;
  return false;
}

/** True when `target` is all visible ASCII (RFC 9112 3.2: no SP, no control, no raw non-ASCII byte). */
function isVisibleAscii(target: string): boolean {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** A method is a token without lowercase letters (methods are case-sensitive; nginx refuses `get` too). */
function isMethod(method: string): boolean {
  return isToken(method) && !/[a-z]/.test(method);
}

/** True when `text[from..to)` is `lower` in any case (`lower` is lowercase letters and '-'). */
function equalsLower(text: string, from: number, to: number, lower: string): boolean {
  if (to - from !== lower.length) return false;
  for (let i = 0; i < lower.length; i++)
    if ((text.charCodeAt(from + i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** `text[from..to)` lowercased; one of the expected values is returned without making a string. */
function lowerValue(text: string, from: number, to: number, a: string, b = ''): string {
  if (equalsLower(text, from, to, a)) return a;
  if (b !== '' && equalsLower(text, from, to, b)) return b;
  return text.slice(from, to).toLowerCase();
}

function isOws(c: number): boolean {
  return c === 32 || c === 9;
}

const METHODS = ['GET', 'PUT', 'POST', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT'];

/** The method `text[0..end)` names when it is a standard one (methods are case-sensitive). */
function knownMethod(text: string, end: number): string | undefined {
  for (let k = 0; k < METHODS.length; k++) {
    const m = METHODS[k];
    if (m.length === end && text.startsWith(m)) return m;
  }
  return undefined;
}

/** Finds the end of a head in `buf`; -1 when not there yet. */
export function findHeadEnd(buf: Buffer): number {
  const i = buf.indexOf(CRLFCRLF);
  return i < 0 ? -1 : i + 4;
}

/**
 * Parses a request head from `buf` into `head` and `info`. Absolute-form targets set the
 * authority from the URL (RFC 9112 3.2.2); CONNECT's authority-form target becomes the authority.
 */
export function parseRequestHead(buf: Buffer, head: RequestHead, info: HeadInfo): HeadOutcome {
  const end = findHeadEnd(buf);
  if (end < 0) return incompleteHead(buf, info);
  if (end > MAX_HEAD_BYTES) return 'too_large';
  info.headLength = end;
  info.host = undefined;
  const text = latin1(buf, 0, end - 4);
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd < 0) lineEnd = text.length;
  info.error = headBytesError(buf, end - 4, text, lineEnd);
  if (info.error !== '') return 'invalid';
  const sp1 = text.indexOf(' ');
  // The last space of the request line, scanned back from its end (`HTTP/1.1` is 8 characters):
  // String#lastIndexOf with a position is a call into V8's runtime.
  let sp2 = lineEnd - 1;
  while (sp2 >= 0 && text.charCodeAt(sp2) !== 32) sp2--;
  if (sp1 <= 0 || sp2 <= sp1) {
    info.error = 'malformed request line';
    return 'invalid';
  }
  const known = knownMethod(text, sp1);
  const method = known ?? text.slice(0, sp1);
  const target = text.slice(sp1 + 1, sp2);
  const version =
    lineEnd - sp2 - 1 === 8 && text.startsWith('HTTP/1.', sp2 + 1) ? text.charCodeAt(lineEnd - 1) : 0;
  if (version === 49 /* HTTP/1.1 */) info.minor = 1;
  else if (version === 48 /* HTTP/1.0 */) {
    info.minor = 0;
    info.close = true;
  } else {
    info.error = 'unsupported HTTP version';
    return 'invalid';
  }
  if (known === undefined && !isMethod(method)) {
    info.error = 'invalid method';
    return 'invalid';
  }
  if (target.length === 0 || !isVisibleAscii(target)) {
    info.error = 'malformed request target';
    return 'invalid';
  }
  head.method = method;
  head.protocol = version === 49 ? 'HTTP/1.1' : 'HTTP/1.0';
  if (info.minor === 0) info.close = true;
  if (!parseHeaderLines(text, lineEnd + 2, head.headers, info)) return 'invalid';
  const host = info.host;
  if (info.minor === 0 && /keep-alive/i.test(findRaw(text, 'connection'))) info.close = false;
  const c0 = target.charCodeAt(0);
  if (c0 === 47 /* / */) {
    // A fragment is never sent to a server (RFC 9110 4.2.5); Envoy strips it, so must a policy check.
    const hash = target.indexOf('#');
    head.path = hash < 0 ? target : target.slice(0, hash);
    head.authority = host ?? '';
  } else if (method === 'CONNECT') {
    head.path = '';
    head.authority = target;
  } else if (target === '*') {
    head.path = '*';
    head.authority = host ?? '';
  } else {
    // absolute-form: scheme://authority/path?query
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^#]*)/.exec(target);
    if (!m) {
      info.error = 'malformed request target';
      return 'invalid';
    }
    head.scheme = m[1].toLowerCase();
    head.authority = m[2];
    head.path = m[3] === '' ? '/' : m[3].startsWith('/') ? m[3] : `/${m[3]}`;
  }
  if (info.minor === 1 && head.authority === '' && host === undefined) {
    info.error = 'missing host header';
    return 'invalid';
  }
  return 'complete';
}

/** A head not yet complete: too large, already malformed (a bare LF), or waiting for more bytes. */
function incompleteHead(buf: Buffer, info: HeadInfo): HeadOutcome {
  if (buf.length > MAX_HEAD_BYTES) return 'too_large';
  if (hasBareLf(buf)) {
    info.error = 'bare LF in head';
    return 'invalid';
  }
  return 'incomplete';
}

function findRaw(text: string, name: string): string {
  const m = new RegExp(`\\r\\n${name}:([^\\r]*)`, 'i').exec(text);
  return m ? m[1] : '';
}

/** Parses a response head into `headers` (flat, lowercase) and `info`. */
export function parseResponseHead(buf: Buffer, headers: string[], info: HeadInfo): HeadOutcome {
  const end = findHeadEnd(buf);
  if (end < 0) return incompleteHead(buf, info);
  if (end > MAX_HEAD_BYTES) return 'too_large';
  info.headLength = end;
  info.host = undefined;
  const text = latin1(buf, 0, end - 4);
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd < 0) lineEnd = text.length;
  info.error = headBytesError(buf, end - 4, text, lineEnd);
  if (info.error !== '') return 'invalid';
  // HTTP/1.1 200 OK
  if (!text.startsWith('HTTP/1.') || (text.charCodeAt(12) !== 32 && lineEnd > 12)) {
    info.error = 'malformed status line';
    return 'invalid';
  }
  info.minor = text.charCodeAt(7) === 48 ? 0 : 1;
  const status = digits(text, 9, 12);
  if (!(status >= 100 && status <= 999)) {
    info.error = 'malformed status line';
    return 'invalid';
  }
  info.status = status;
  // The canonical reason phrase ("OK") is taken from the table rather than sliced.
  const canonical = STATUS_TEXT[status];
  info.reason =
    lineEnd <= 13
      ? ''
      : canonical !== undefined && lineEnd - 13 === canonical.length && text.startsWith(canonical, 13)
        ? canonical
        : text.slice(13, lineEnd);
  if (info.minor === 0) info.close = true;
  if (!parseHeaderLines(text, lineEnd + 2, headers, info)) return 'invalid';
  if (info.host !== undefined) headers.push('host', info.host);
  if (info.expectContinue) headers.push('expect', '100-continue');
  if (info.framing === 'none' && info.contentLength < 0 && status >= 200 && status !== 204 && status !== 304)
    info.framing = 'eof';
  return 'complete';
}

/** Serialises `[name, value, ...]` as header lines (each ending CRLF). */
export function headerLines(headers: readonly string[]): string {
  let out = '';
  for (let i = 0; i < headers.length; i += 2) out += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return out;
}

/** Parses raw trailer lines (from BodyReader.trailers) into a flat lowercase list. */
export function parseTrailerLines(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out.push(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return out;
}

/** Canonical reason phrases for local replies. */
export const STATUS_TEXT: Record<number, string> = {
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  204: 'No Content',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  411: 'Length Required',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};
