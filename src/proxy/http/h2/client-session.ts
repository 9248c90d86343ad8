// The client side of an HTTP/2 connection (the proxy to an upstream host): opens streams, reads response heads, bodies and trailers.
import type net from 'node:net';
import * as F from './frames.ts';
import { H2_PREFACE } from './preface.ts';
import { validName, validValue } from './request-headers.ts';
import { H2Session } from './session.ts';
import type { H2Stream, H2StreamHandler } from './stream.ts';

/** Reset code given to streams whose connection never came up (not an HTTP/2 code). */
export const CONNECT_FAILED = -1;

/** What the pool hears from a session. */
export interface ClientSessionOwner {
  /** A stream left the session. */
  streamClosed(stream: H2Stream): void;
  /** The socket closed. */
  sessionClosed(session: H2ClientSession): void;
  /** The server acknowledged a PING sent with `ping()` (keepalive). */
  pingAcked?(): void;
}

/** Stream ids run out at 2^31; a session this close to the end takes no new streams. */
const LAST_STREAM_ID = 2 ** 31 - 1;

export class H2ClientSession extends H2Session {
  private nextId = 1;
  private readonly owner: ClientSessionOwner;
  /** The socket connected (TLS: handshake done). */
  connected = false;

  constructor(socket: net.Socket, owner: ClientSessionOwner, connectEvent: 'connect' | 'secureConnect') {
    super(socket, false);
    this.owner = owner;
    this.out.raw(H2_PREFACE);
    this.sendPrefaceSettings(F.MAX_CONCURRENT_STREAMS);
    socket.once(connectEvent, () => {
      this.connected = true;
    });
  }

  /** Takes a new stream now (false: draining, gone, at the peer's limit, or out of stream ids). */
  get available(): boolean {
    return (
      !this.destroyed &&
      !this.goawaySent &&
      !this.goawayReceived &&
      this.streams.size < this.peerMaxStreams &&
      this.nextId < LAST_STREAM_ID
    );
  }

  /** Opens a stream with a request head (flat name/value list, pseudo-headers first). */
  request(headers: readonly string[], endStream: boolean, handler: H2StreamHandler): H2Stream {
    const id = this.nextId;
    this.nextId += 2;
    const stream = this.addStream(id, handler);
    stream.sendHeaders(headers, endStream);
    return stream;
  }

  /** Sends a PING; the owner's pingAcked hears the server's ack. */
  ping(): void {
    if (!this.destroyed) this.out.ping(PING_PAYLOAD);
  }

  protected override pingAcked(): void {
    this.owner.pingAcked?.();
  }

  protected newStream(id: number): void {
    // A server never opens streams here (push is off); an odd id is one of ours, already closed.
    if ((id & 1) === 0 || id >= this.nextId) this.connectionError(F.PROTOCOL_ERROR);
  }

  protected streamHeaders(stream: H2Stream, headers: string[], endStream: boolean): void {
    if (!validFields(headers)) {
      this.streamError(stream.id, F.PROTOCOL_ERROR);
      return;
    }
    if (stream.heads > 0 && stream.heads !== INFORMATIONAL) {
      // Trailers: they end the stream and carry no pseudo-header.
      if (!endStream || hasPseudo(headers)) {
        this.streamError(stream.id, F.PROTOCOL_ERROR);
        return;
      }
    } else {
      const status = headers[0] === ':status' ? Number(headers[1]) : Number.NaN;
      if (!(status >= 100 && status <= 999)) {
        this.streamError(stream.id, F.PROTOCOL_ERROR);
        return;
      }
      // An informational head (1xx) is followed by the real one.
      if (status < 200) {
        if (endStream) {
          this.streamError(stream.id, F.PROTOCOL_ERROR);
          return;
        }
        stream.heads = INFORMATIONAL;
        return;
      }
    }
    stream.heads = stream.heads === INFORMATIONAL ? 1 : stream.heads + 1;
    if (endStream) stream.remoteEnded = true;
    stream.handler.onHeaders(stream, headers, endStream);
    if (endStream && stream.localEnded) this.closeStream(stream);
  }

  protected isIdle(id: number): boolean {
    return (id & 1) === 0 || id >= this.nextId;
  }

  protected lastPeerStream(): number {
    return 0;
  }

  protected override goaway(lastStreamId: number): void {
    // Streams above the last one the server processed never reached the app: safe to retry.
    for (const stream of [...this.streams.values()])
      if (stream.id > lastStreamId) {
        this.closeStream(stream);
        stream.handler.onReset(stream, F.REFUSED_STREAM);
      }
  }

  protected streamClosed(stream: H2Stream): void {
    this.owner.streamClosed(stream);
  }

  protected closed(): void {
    this.owner.sessionClosed(this);
  }

  protected override abortCode(code: number): number {
    return this.connected ? code : CONNECT_FAILED;
  }
}

/** The 8 bytes every keepalive PING carries (an ack echoes them; only one is outstanding at a time). */
const PING_PAYLOAD = Buffer.from('weftping');

/** stream.heads while only an informational head came. */
const INFORMATIONAL = -1;

/** Regular fields with valid names (lowercase tokens) and values, as nghttp2 checks a response. */
function validFields(headers: string[]): boolean {
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i].charCodeAt(0) !== 58 && !(validName(headers[i]) && validValue(headers[i + 1])))
      return false;
  return true;
}

function hasPseudo(headers: string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) if (headers[i].charCodeAt(0) === 58) return true;
  return false;
}
