// The server side of an HTTP/2 connection (a client to the proxy): accepts streams, checks request heads as strictly as nghttp2, guards against rapid reset.
import type net from 'node:net';
import * as F from './frames.ts';
import { RequestCheck } from './request-headers.ts';
import { H2Session } from './session.ts';
import type { H2Stream, H2StreamHandler } from './stream.ts';

/** What the connection manager does with a server session's streams. */
export interface ServerSessionOwner {
  /**
   * A request head arrived on a new stream: returns its handler (the codec). `check` holds the
   * pseudo-headers and content-length; `tooLarge`: the header list is over the limits (answer 431).
   */
  openStream(
    session: H2ServerSession,
    stream: H2Stream,
    headers: string[],
    endStream: boolean,
    check: RequestCheck,
    tooLarge: boolean,
  ): H2StreamHandler;
  /** A stream left the session. */
  streamClosed(session: H2ServerSession, stream: H2Stream): void;
  /** The client reset too many streams before their responses were done (CVE-2023-44487). */
  tooManyResets(session: H2ServerSession): void;
  /** The socket closed. */
  sessionClosed(session: H2ServerSession): void;
}

/** A stream's handler until the owner sets the real one (a stream refused at once hears nothing). */
const NOBODY: H2StreamHandler = {
  onHeaders() {},
  onData() {},
  onReset() {},
  onWritable() {},
};

export class H2ServerSession extends H2Session {
  private readonly owner: ServerSessionOwner;
  private lastId = 0;
  /** Streams the client opened, and reset before their response was done (rapid reset). */
  private opened = 0;
  private premature = 0;
  private readonly check = new RequestCheck();

  /** Feed the bytes protocol detection already read with `receive` first. */
  constructor(socket: net.Socket, owner: ServerSessionOwner) {
    super(socket, true);
    this.owner = owner;
    this.sendPrefaceSettings(F.MAX_CONCURRENT_STREAMS);
    socket.setNoDelay(true);
    socket.resume();
  }

  protected newStream(id: number, headers: string[], endStream: boolean, listSize: number): void {
    if ((id & 1) === 0 || id <= this.lastId) {
      // Even ids are ours to use (never); a lower odd id is a stream that was closed.
      this.connectionError((id & 1) === 0 ? F.PROTOCOL_ERROR : F.STREAM_CLOSED);
      return;
    }
    this.lastId = id;
    // Refused (the client may retry elsewhere): draining, at the stream limit, or holding too much
    // response data for a client that does not open its windows (node:http2's maxSessionMemory).
    if (
      this.goawaySent ||
      this.streams.size >= F.MAX_CONCURRENT_STREAMS ||
      this.buffered + this.socket.writableLength > F.MAX_SESSION_BUFFER
    ) {
      this.writeReset(id, F.REFUSED_STREAM);
      return;
    }
    const check = this.check;
    if (!check.check(headers, false)) {
      this.writeReset(id, F.PROTOCOL_ERROR);
      return;
    }
    const stream = this.addStream(id, NOBODY);
    stream.heads = 1;
    stream.expectedLength = check.contentLength;
    if (endStream) {
      stream.remoteEnded = true;
      if (check.contentLength > 0) {
        this.streamError(id, F.PROTOCOL_ERROR);
        return;
      }
    }
    this.opened++;
    const tooLarge = listSize > F.MAX_HEADER_LIST_SIZE || headers.length > 2 * F.MAX_HEADER_FIELDS;
    stream.handler = this.owner.openStream(this, stream, headers, endStream, check, tooLarge);
  }

  protected streamHeaders(stream: H2Stream, headers: string[], endStream: boolean): void {
    // Request trailers: they end the stream and carry no pseudo-header.
    if (!endStream || !this.check.check(headers, true)) {
      this.streamError(stream.id, F.PROTOCOL_ERROR);
      return;
    }
    const expected = stream.expectedLength;
    if (expected >= 0 && stream.receivedLength !== expected) {
      this.streamError(stream.id, F.PROTOCOL_ERROR);
      return;
    }
    stream.remoteEnded = true;
    stream.handler.onHeaders(stream, headers, true);
    if (stream.localEnded) this.closeStream(stream);
  }

  protected isIdle(id: number): boolean {
    return (id & 1) === 0 || id > this.lastId;
  }

  protected lastPeerStream(): number {
    return this.lastId;
  }

  /**
   * HTTP/2 rapid reset (CVE-2023-44487), as Envoy guards against it: a client that opened at least
   * 100 streams and reset half of them or more before their response was done loses the connection
   * (GOAWAY ENHANCE_YOUR_CALM).
   */
  protected override peerReset(stream: H2Stream): void {
    if (stream.localEnded) return;
    this.premature++;
    if (this.opened >= 100 && this.premature * 2 >= this.opened && !this.destroyed) {
      this.owner.tooManyResets(this);
      this.connectionError(F.ENHANCE_YOUR_CALM);
    }
  }

  protected streamClosed(stream: H2Stream): void {
    this.owner.streamClosed(this, stream);
  }

  protected closed(): void {
    this.owner.sessionClosed(this);
  }
}
