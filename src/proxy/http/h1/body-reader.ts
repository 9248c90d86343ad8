// HTTP/1.1 message bodies across socket reads: content-length counting and a strict chunked decoder.
import { latin1 } from '../../common/latin1.ts';

/** How a message body is delimited. */
export type BodyFraming = 'none' | 'length' | 'chunked' | 'eof';

/** Longest chunk-size line or trailer line accepted. */
const MAX_LINE = 4096;
/** Most trailer bytes accepted (as for a head: Envoy's max_request_headers_kb default, 60 KiB). */
const MAX_TRAILER_BYTES = 60 * 1024;
/** Largest chunk size accepted: a chunk no larger than what a JS number counts exactly. */
const MAX_CHUNK = Number.MAX_SAFE_INTEGER;

/**
 * chunk-ext (RFC 9112 7.1.1): `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`.
 * Only the text after the size is tested, and only when there is some.
 */
const CHUNK_EXT =
  /^(?:[ \t]*;[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+|"(?:[\t !#-[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"))?)*$/;

/** A trailer field line: token ":" OWS value OWS, with no control byte but HTAB in the value. */
const TRAILER_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t -~\x80-\xff]*$/;

/** Chunked decoder states. */
const SIZE = 0;
const DATA = 1;
const DATA_CR = 2;
const TRAILERS = 3;
const DONE = 4;
const DATA_LF = 5;

const CRLF = Buffer.from('\r\n');
/** Size lines of re-framed chunks by size: bodies repeat a few sizes, so most are made once. */
const SIZE_LINES = new Map<number, Buffer>();
const MAX_SIZE_LINES = 256;

function sizeLineBytes(size: number): Buffer {
  let line = SIZE_LINES.get(size);
  if (line === undefined) {
    line = Buffer.from(`${size.toString(16)}\r\n`, 'latin1');
    if (SIZE_LINES.size >= MAX_SIZE_LINES) SIZE_LINES.clear();
    SIZE_LINES.set(size, line);
  }
  return line;
}
const LAST_CHUNK = Buffer.from('0\r\n');

/** The value of hex digits `s`, or -1 when `s` is not 1+ hex digits or too large. */
function hexValue(s: string, end: number): number {
  if (end === 0) return -1;
  let n = 0;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) return -1;
    n = n * 16 + d;
    if (n > MAX_CHUNK) return -1;
  }
  return n;
}

/**
 * Walks a message body across socket reads. Chunked bodies are checked strictly (sizes,
 * extensions, CRLF after each chunk, trailer lines; a bare LF is an error) and, depending on the
 * mode, handed out as de-chunked data (`decode`), as freshly framed chunks without extensions
 * (`reframe`: the upstream never sees the client's framing bytes), or located only (neither: the
 * caller relays the bytes it was told belong to the body).
 */
export class BodyReader {
  framing: BodyFraming = 'none';
  /** Bytes left of a content-length body or of the current chunk. */
  remaining = 0;
  private state = SIZE;
  private line = '';
  /** Output slices of the last `read` in decode or reframe mode; the caller drains it. */
  decoded: Buffer[] = [];
  /** Hand out de-chunked data (wins over `reframe`). */
  decode = false;
  /** Hand out re-framed chunks. */
  reframe = false;
  /** Trailer lines of a chunked body (`name: value\r\n` each, validated). */
  trailers = '';
  /** Set when the body is malformed. */
  error = '';

  start(framing: BodyFraming, contentLength: number, decode: boolean, reframe = false): void {
    this.framing = framing;
    this.remaining = framing === 'length' ? contentLength : 0;
    this.state = SIZE;
    this.line = '';
    this.decode = decode;
    this.reframe = reframe;
    if (this.decoded.length > 0) this.decoded.length = 0;
    this.trailers = '';
    this.error = '';
  }

  /** True when the whole body has been read. */
  get done(): boolean {
    if (this.framing === 'length') return this.remaining === 0;
    if (this.framing === 'chunked') return this.state === DONE;
    return this.framing === 'none';
  }

  /**
   * Consumes body bytes from `buf[start..]`; returns how many belong to this body (the rest is
   * the next message). Returns -1 on a malformed chunked body (`error` says why).
   */
  read(buf: Buffer, start: number): number {
    const len = buf.length - start;
    if (this.framing === 'eof') return len;
    if (this.framing === 'length') {
      const n = Math.min(len, this.remaining);
      this.remaining -= n;
      return n;
    }
    if (this.framing !== 'chunked') return 0;
    let i = start;
    const end = buf.length;
    while (i < end && this.state !== DONE) {
      switch (this.state) {
        case SIZE:
        case TRAILERS: {
          const nl = buf.indexOf(10, i);
          const stop = nl < 0 ? end : nl + 1;
          this.line += latin1(buf, i, stop);
          i = stop;
          if (this.line.length > MAX_LINE) return this.fail('chunk line too long');
          if (nl < 0) break;
          const line = this.line;
          this.line = '';
          if (line.length < 2 || line.charCodeAt(line.length - 2) !== 13)
            return this.fail('bare LF in chunked body');
          if (!(this.state === SIZE ? this.sizeLine(line) : this.trailerLine(line))) return -1;
          break;
        }
        case DATA: {
          const n = Math.min(end - i, this.remaining);
          if (this.decode || this.reframe) this.decoded.push(buf.subarray(i, i + n));
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = DATA_CR;
          break;
        }
        case DATA_CR:
          if (buf[i++] !== 13) return this.fail('missing CRLF after chunk data');
          this.state = DATA_LF;
          break;
        case DATA_LF:
          if (buf[i++] !== 10) return this.fail('missing CRLF after chunk data');
          if (this.reframe && !this.decode) this.decoded.push(CRLF);
          this.state = SIZE;
          break;
      }
    }
    return i - start;
  }

  /** `line` is `chunk-size [chunk-ext] CRLF`. */
  private sizeLine(line: string): boolean {
    const body = line.length - 2;
    let hexEnd = 0;
    while (hexEnd < body && isHexDigit(line.charCodeAt(hexEnd))) hexEnd++;
    const size = hexValue(line, hexEnd);
    if (size < 0) return this.reject('invalid chunk size');
    if (hexEnd < body && !CHUNK_EXT.test(line.slice(hexEnd, body)))
      return this.reject('invalid chunk extension');
    this.remaining = size;
    if (size === 0) {
      this.state = TRAILERS;
      if (this.reframe && !this.decode) this.decoded.push(LAST_CHUNK);
    } else {
      this.state = DATA;
      if (this.reframe && !this.decode) this.decoded.push(sizeLineBytes(size));
    }
    return true;
  }

  /** `line` is a trailer field line or the empty line that ends the body. */
  private trailerLine(line: string): boolean {
    if (line.length === 2) {
      this.state = DONE;
      if (this.reframe && !this.decode) {
        if (this.trailers !== '') this.decoded.push(Buffer.from(this.trailers, 'latin1'));
        this.decoded.push(CRLF);
      }
      return true;
    }
    const field = line.slice(0, -2);
    if (!TRAILER_LINE.test(field)) return this.reject('invalid trailer line');
    if (this.trailers.length + line.length > MAX_TRAILER_BYTES) return this.reject('trailers too large');
    const colon = field.indexOf(':');
    this.trailers += `${field.slice(0, colon).toLowerCase()}: ${field.slice(colon + 1).trim()}\r\n`;
    return true;
  }

  private fail(reason: string): number {
    this.error = reason;
    return -1;
  }

  private reject(reason: string): false {
    this.error = reason;
    return false;
  }
}

function isHexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}
