// One HTTP/2 stream of the proxy's codec: send-side flow control and the callbacks its owner (a codec or an upstream attempt) implements.
import type net from 'node:net';
import { CANCEL, STREAM_WINDOW } from './frames.ts';

/** What a stream asks of its session (H2Session), declared here so that the two files do not import each other. */
export interface H2StreamSession {
  readonly socket: net.Socket;
  readonly socketFull: boolean;
  /** Body bytes of all the session's streams that wait for window. */
  buffered: number;
  writeHeaders(id: number, headers: readonly string[], endStream: boolean): void;
  writeData(stream: H2Stream, chunk: Buffer, offset: number, endStream: boolean): number;
  writeWindowUpdate(id: number, increment: number): void;
  writeReset(id: number, code: number): void;
  blocked(stream: H2Stream): void;
  closeStream(stream: H2Stream): void;
}

/** What the owner of a stream hears from it. Plain callbacks: no event emitter per stream. */
export interface H2StreamHandler {
  /** A header block: the request or response head, then (with `endStream`) trailers. Flat name/value list. */
  onHeaders(stream: H2Stream, headers: string[], endStream: boolean): void;
  /** Body bytes (a view of the read buffer, not copied); `endStream` may come with an empty chunk. */
  onData(stream: H2Stream, chunk: Buffer, endStream: boolean): void;
  /** The peer reset the stream, or the connection is gone (`code` is the HTTP/2 error code). Last call. */
  onReset(stream: H2Stream, code: number): void;
  /** Writes that returned false can go on: the window opened and the socket drained. */
  onWritable(stream: H2Stream): void;
}

/** Credit the peer's window once this many bytes were consumed (a quarter of the window). */
const CREDIT_AT = STREAM_WINDOW / 4;

export class H2Stream {
  readonly id: number;
  readonly session: H2StreamSession;
  handler: H2StreamHandler;
  /** Bytes the peer lets us send on this stream. */
  sendWindow: number;
  /** Bytes the peer may still send before we credit it (flow-control enforcement). */
  recvWindow = STREAM_WINDOW;
  /** Body bytes waiting for window, and what follows them. */
  pending: Buffer[] | null = null;
  pendingEnd = false;
  pendingTrailers: string[] | null = null;
  /** A write returned false: call onWritable when it can go on. */
  wantWritable = false;
  /** END_STREAM sent / received; closed: gone from the session. */
  localEnded = false;
  remoteEnded = false;
  closed = false;
  /** Header blocks received (the head, informational heads, trailers). */
  heads = 0;
  /** content-length of the received message (-1: none) and the DATA bytes received. */
  expectedLength = -1;
  receivedLength = 0;
  /** Received bytes not yet credited back, and whether the owner paused reading. */
  private unacked = 0;
  private paused = false;

  constructor(session: H2StreamSession, id: number, handler: H2StreamHandler, sendWindow: number) {
    this.session = session;
    this.id = id;
    this.handler = handler;
    this.sendWindow = sendWindow;
  }

  /** Sends a header block (a head, or trailers with `endStream`). */
  sendHeaders(headers: readonly string[], endStream: boolean): void {
    if (this.closed || this.localEnded) return;
    if (endStream && this.pending !== null) {
      // Trailers wait behind body bytes that wait for window.
      this.pendingTrailers = headers as string[];
      return;
    }
    this.session.writeHeaders(this.id, headers, endStream);
    if (endStream) this.ended();
  }

  /** Sends body bytes; false when they wait (window or socket): wait for onWritable. */
  write(chunk: Buffer, endStream = false): boolean {
    if (this.closed || this.localEnded) return true;
    if (this.pending !== null) {
      if (chunk.length > 0) this.pending.push(chunk);
      this.session.buffered += chunk.length;
      if (endStream) this.pendingEnd = true;
    } else {
      const sent = this.session.writeData(this, chunk, 0, endStream);
      if (sent < chunk.length) {
        this.pending = [sent === 0 ? chunk : chunk.subarray(sent)];
        this.session.buffered += chunk.length - sent;
        this.pendingEnd = endStream;
        this.session.blocked(this);
      } else if (endStream) this.ended();
    }
    const ok = this.pending === null && !this.session.socketFull;
    if (!ok) this.wantWritable = true;
    return ok;
  }

  /** Ends the body (an empty DATA frame with END_STREAM, after any pending bytes). */
  end(): void {
    this.write(EMPTY, true);
  }

  /** Sends what window allows of the pending bytes; true when none are left. */
  flushPending(): boolean {
    const pending = this.pending;
    if (pending === null) return true;
    while (pending.length > 0) {
      const chunk = pending[0];
      const last = pending.length === 1;
      const sent = this.session.writeData(
        this,
        chunk,
        0,
        last && this.pendingEnd && this.pendingTrailers === null,
      );
      this.session.buffered -= sent;
      if (sent < chunk.length) {
        pending[0] = chunk.subarray(sent);
        return false;
      }
      pending.shift();
    }
    this.pending = null;
    if (this.pendingTrailers !== null) {
      const trailers = this.pendingTrailers;
      this.pendingTrailers = null;
      this.session.writeHeaders(this.id, trailers, true);
      this.ended();
    } else if (this.pendingEnd) this.ended();
    return true;
  }

  /** Stops (true) or resumes (false) crediting the peer's window: backpressure to the sender. */
  pause(paused: boolean): void {
    this.paused = paused;
    if (!paused && this.unacked > 0) this.credit();
  }

  /** `n` received bytes were handed to the owner. */
  consumed(n: number): void {
    this.unacked += n;
    if (!this.paused && this.unacked >= CREDIT_AT && !this.remoteEnded) this.credit();
  }

  private credit(): void {
    if (this.closed || this.remoteEnded) return;
    this.recvWindow += this.unacked;
    this.session.writeWindowUpdate(this.id, this.unacked);
    this.unacked = 0;
  }

  /** Drops body bytes that wait for window (the stream is closing). */
  dropPending(): void {
    const pending = this.pending;
    if (pending === null) return;
    for (const chunk of pending) this.session.buffered -= chunk.length;
    this.pending = null;
  }

  /** Resets the stream (RST_STREAM with `code`); the handler hears nothing more. */
  reset(code = CANCEL): void {
    if (this.closed) return;
    this.session.writeReset(this.id, code);
    this.session.closeStream(this);
  }

  private ended(): void {
    this.localEnded = true;
    if (this.remoteEnded) this.session.closeStream(this);
  }
}

const EMPTY = Buffer.alloc(0);
