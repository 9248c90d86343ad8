// HTTP/1.1 response heads as bytes: status and server lines built once, a head held to leave with its first body bytes.
import type net from 'node:net';
import { removeFlat } from '../../common/flat-list.ts';
import { headerLinesLength, putHeaderLines, putLatin1 } from '../../common/latin1.ts';
import { STATUS_TEXT } from './parser.ts';

const NO_HEADERS: string[] = [];
/** Status lines with the canonical reason, built once per status. */
const STATUS_LINES = new Map<number, string>();

function statusLine(status: number, reason: string): string {
  const canonical = STATUS_TEXT[status];
  if (reason !== '' && reason !== canonical) return `HTTP/1.1 ${status} ${reason}\r\n`;
  let line = STATUS_LINES.get(status);
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${canonical ?? ''}\r\n`;
    STATUS_LINES.set(status, line);
  }
  return line;
}

/** `server: NAME\r\n` for the last server name asked for (one per process in practice). */
let serverLineName = '';
let serverLineText = '';

function serverLine(name: string): string {
  if (name !== serverLineName) {
    serverLineName = name;
    serverLineText = `server: ${name}\r\n`;
  }
  return serverLineText;
}

/** What the proxy does with the `server` header (the HCM's server_header_transformation). */
export type ServerHeader = 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';

const CONTENT_LENGTH = 'content-length: ';

/** Decimal digits of a non-negative integer. */
function digitCount(n: number): number {
  let d = 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) d++;
  return d;
}

/**
 * A response head not yet written, in pieces: status line, server line, the header list, the
 * framing line (or a content length), and the connection line with the final CRLF. One per
 * connection, reused.
 */
export class HeldResponseHead {
  private status: string | null = null;
  private server = '';
  private headers: string[] = NO_HEADERS;
  private framing = '';
  /** `content-length` to write (-1: none). */
  private length = -1;
  private end = '';

  get pending(): boolean {
    return this.status !== null;
  }

  /**
   * Holds a head; `headers` is applied the server-header policy (it may lose its `server`).
   * `framing`: a whole line or ''; `length`: a content-length to write, or -1; `end`: the last
   * line(s) with the head's final CRLF.
   */
  hold(
    status: number,
    reason: string,
    headers: string[],
    framing: string,
    length: number,
    end: string,
    policy: ServerHeader,
    serverName: string,
  ): void {
    let server = '';
    if (policy === 'OVERWRITE') {
      removeFlat(headers, 'server');
      server = serverLine(serverName);
    } else if (policy === 'APPEND_IF_ABSENT' && !hasFlat(headers, 'server')) server = serverLine(serverName);
    this.status = statusLine(status, reason);
    this.server = server;
    this.headers = headers;
    this.framing = framing;
    this.length = length;
    this.end = end;
  }

  /**
   * Writes the held head, joined with `chunk` in one Buffer when it is small (the head is encoded
   * straight into it). Returns write()'s result.
   */
  write(socket: net.Socket, chunk: Buffer | null): boolean {
    const status = this.status!;
    const server = this.server;
    const headers = this.headers;
    const length = this.length;
    this.status = null;
    this.headers = NO_HEADERS;
    const lengthLine = length < 0 ? 0 : CONTENT_LENGTH.length + digitCount(length) + 2;
    const headLength =
      status.length +
      server.length +
      headerLinesLength(headers) +
      this.framing.length +
      lengthLine +
      this.end.length;
    const joined = chunk !== null && chunk.length <= 16384;
    const buf = Buffer.allocUnsafe(joined ? headLength + chunk.length : headLength);
    let off = putLatin1(buf, 0, status);
    off = putLatin1(buf, off, server);
    off = putHeaderLines(buf, off, headers);
    off = putLatin1(buf, off, this.framing);
    if (length >= 0) {
      off = putLatin1(buf, off, CONTENT_LENGTH);
      off = putDigits(buf, off, length);
      buf[off++] = 13;
      buf[off++] = 10;
    }
    off = putLatin1(buf, off, this.end);
    if (chunk === null) return socket.write(buf);
    if (joined) {
      chunk.copy(buf, off);
      return socket.write(buf);
    }
    socket.cork();
    socket.write(buf);
    const ok = socket.write(chunk);
    socket.uncork();
    return ok;
  }
}

/** Writes the decimal digits of a non-negative integer at `off`; returns the offset after them. */
function putDigits(buf: Buffer, off: number, n: number): number {
  const end = off + digitCount(n);
  let v = n;
  for (let i = end - 1; i >= off; i--) {
    buf[i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
  return end;
}

function hasFlat(h: string[], name: string): boolean {
  for (let i = 0; i < h.length; i += 2) if (h[i] === name) return true;
  return false;
}
