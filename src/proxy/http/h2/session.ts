// One HTTP/2 connection of the proxy's codec (either side): frames parsed straight from the socket's reads, flow control, SETTINGS/PING/GOAWAY/RST, writes batched per tick.
import type net from 'node:net';
import { FrameReader, type FrameSink } from './frame-reader.ts';
import { FrameWriter } from './frame-writer.ts';
import * as F from './frames.ts';
import { HEADER_TABLE_SIZE, HpackDecoder } from './hpack.ts';
import { H2Stream, type H2StreamHandler } from './stream.ts';

/** A frame handler's result when the connection goes on (else the connection error code). */
const OK = 0;

/** How long a closing connection waits for the peer to close its side. */
const CLOSE_GRACE_MS = 5000;

export abstract class H2Session implements FrameSink {
  readonly socket: net.Socket;
  readonly streams = new Map<number, H2Stream>();
  protected readonly decoder = new HpackDecoder();
  /** The peer's settings. */
  peerInitialWindow = F.DEFAULT_WINDOW;
  peerMaxStreams = Number.POSITIVE_INFINITY;
  /** Connection-level windows: what we may send, what the peer may send, received bytes not yet credited. */
  private connSendWindow = F.DEFAULT_WINDOW;
  private connRecvWindow = F.DEFAULT_WINDOW;
  private connUnacked = 0;
  private readonly reader: FrameReader;
  /** The peer's first SETTINGS came. */
  private settingsSeen = false;
  /** A header block split over CONTINUATION frames. */
  private blockStream = 0;
  private blockFlags = 0;
  private blockParts: Buffer[] = [];
  private blockSize = 0;
  /** Frames out, batched per tick. */
  protected readonly out: FrameWriter;
  /** Body bytes of all streams waiting for window (bounded by refusing new streams beyond MAX_SESSION_BUFFER). */
  buffered = 0;
  /** Streams with body bytes waiting for window. */
  private readonly blockedStreams: H2Stream[] = [];
  goawaySent = false;
  goawayReceived = false;
  destroyed = false;

  /** `expectPreface`: a server reads the client's connection preface first. */
  constructor(socket: net.Socket, expectPreface: boolean) {
    this.socket = socket;
    this.reader = new FrameReader(this, expectPreface);
    this.out = new FrameWriter(socket);
    socket.on('data', this.receive);
    socket.on('drain', this.onDrain);
    socket.on('close', this.onSocketClose);
    socket.on('end', this.onSocketEnd);
    socket.on('error', this.onSocketError);
  }

  /** Our SETTINGS, and the connection window raised to CONNECTION_WINDOW. */
  protected sendPrefaceSettings(maxStreams: number): void {
    this.out.settings([
      F.SETTINGS_ENABLE_PUSH,
      0,
      F.SETTINGS_MAX_CONCURRENT_STREAMS,
      maxStreams,
      F.SETTINGS_INITIAL_WINDOW_SIZE,
      F.STREAM_WINDOW,
      F.SETTINGS_MAX_HEADER_LIST_SIZE,
      F.MAX_HEADER_LIST_SIZE,
    ]);
    this.out.windowUpdate(0, F.CONNECTION_WINDOW - F.DEFAULT_WINDOW);
    this.connRecvWindow = F.CONNECTION_WINDOW;
  }

  /** A header block for a stream this session does not know (the server opens a stream). */
  protected abstract newStream(id: number, headers: string[], endStream: boolean, listSize: number): void;
  /** A header block for a known stream (response head, informational head or trailers). */
  protected abstract streamHeaders(
    stream: H2Stream,
    headers: string[],
    endStream: boolean,
    listSize: number,
  ): void;
  /** True when `id` names a stream that was never opened (frames on it are a connection error). */
  protected abstract isIdle(id: number): boolean;
  /** The highest stream id the peer opened (for GOAWAY). */
  protected abstract lastPeerStream(): number;
  /** A stream left the session (completed or reset). */
  protected abstract streamClosed(stream: H2Stream): void;
  /** The peer reset a stream (rapid reset accounting on a server). */
  protected peerReset(_stream: H2Stream): void {}
  /** The socket closed: the session is over. */
  protected abstract closed(): void;

  // --- reading -------------------------------------------------------------------------------

  /** Bytes read from the socket (also the bytes protocol detection read first). */
  readonly receive = (chunk: Buffer): void => {
    if (!this.destroyed) this.reader.read(chunk);
  };

  /** One whole frame from the reader. */
  frame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.blockStream !== 0 && type !== F.CONTINUATION) {
      this.connectionError(F.PROTOCOL_ERROR);
      return;
    }
    if (!this.settingsSeen) {
      if (type !== F.SETTINGS || (flags & F.FLAG_ACK) !== 0) {
        this.connectionError(F.PROTOCOL_ERROR);
        return;
      }
      this.settingsSeen = true;
    }
    let error = OK;
    switch (type) {
      case F.DATA:
        error = this.onData(flags, id, buf, start, end);
        break;
      case F.HEADERS:
        error = this.onHeaders(flags, id, buf, start, end);
        break;
      case F.CONTINUATION:
        error = this.onContinuation(flags, id, buf, start, end);
        break;
      case F.PRIORITY:
        // Priorities are ignored (RFC 9113 deprecates them); only the frame's shape is checked.
        if (id === 0) error = F.PROTOCOL_ERROR;
        else if (end - start !== 5) this.streamError(id, F.FRAME_SIZE_ERROR);
        break;
      case F.RST_STREAM:
        error = this.onReset(id, buf, start, end);
        break;
      case F.SETTINGS:
        error = this.onSettings(flags, id, buf, start, end);
        break;
      case F.PING:
        error = this.onPing(flags, id, buf, start, end);
        break;
      case F.GOAWAY:
        error = this.onGoaway(id, buf, start, end);
        break;
      case F.WINDOW_UPDATE:
        error = this.onWindowUpdate(id, buf, start, end);
        break;
      case F.PUSH_PROMISE:
        // We never enable push, and a client never pushes.
        error = F.PROTOCOL_ERROR;
        break;
      default:
      // Unknown frame types are ignored (RFC 9113 5.5).
    }
    if (error !== OK) this.connectionError(error);
  }

  /** Consecutive DATA frames with no payload and no END_STREAM. */
  private emptyFrames = 0;

  /** Where the payload of the last unpadded frame starts. */
  private payloadStart = 0;

  /** The payload end of a DATA or HEADERS frame without its padding (negative: minus the connection error). */
  private unpadded(flags: number, buf: Buffer, start: number, end: number): number {
    this.payloadStart = start;
    if ((flags & F.FLAG_PADDED) === 0) return end;
    const pad = end > start ? buf[start] : -1;
    if (pad < 0) return -F.FRAME_SIZE_ERROR;
    if (pad > end - start - 1) return -F.PROTOCOL_ERROR;
    this.payloadStart = start + 1;
    return end - pad;
  }

  private onData(flags: number, id: number, buf: Buffer, start: number, end: number): number {
    if (id === 0) return F.PROTOCOL_ERROR;
    const e = this.unpadded(flags, buf, start, end);
    if (e < 0) return -e;
    const s = this.payloadStart;
    const flow = end - start;
    this.connRecvWindow -= flow;
    if (this.connRecvWindow < 0) return F.FLOW_CONTROL_ERROR;
    this.connUnacked += flow;
    if (this.connUnacked >= F.CONNECTION_WINDOW / 2) {
      this.connRecvWindow += this.connUnacked;
      this.writeWindowUpdate(0, this.connUnacked);
      this.connUnacked = 0;
    }
    // An empty DATA frame that does not end its stream carries nothing: a run of them is a flood
    // (CVE-2019-9518), refused as Envoy's max_inbound_frames_with_empty_payload (1) does.
    if (e === s && (flags & F.FLAG_END_STREAM) === 0) {
      if (++this.emptyFrames > F.MAX_EMPTY_FRAMES) return F.ENHANCE_YOUR_CALM;
    } else this.emptyFrames = 0;
    const stream = this.streams.get(id);
    // A stream we already closed or reset: its frames in flight are dropped.
    if (stream === undefined) return this.isIdle(id) ? F.PROTOCOL_ERROR : OK;
    if (stream.remoteEnded || stream.heads <= 0) return this.streamError(id, F.STREAM_CLOSED);
    stream.recvWindow -= flow;
    if (stream.recvWindow < 0) return this.streamError(id, F.FLOW_CONTROL_ERROR);
    const endStream = (flags & F.FLAG_END_STREAM) !== 0;
    stream.receivedLength += e - s;
    const expected = stream.expectedLength;
    if (
      expected >= 0 &&
      (stream.receivedLength > expected || (endStream && stream.receivedLength !== expected))
    )
      return this.streamError(id, F.PROTOCOL_ERROR);
    if (endStream) stream.remoteEnded = true;
    if (e > s || endStream) stream.handler.onData(stream, buf.subarray(s, e), endStream);
    if (!stream.closed) {
      if (endStream && stream.localEnded) this.closeStream(stream);
      else stream.consumed(flow);
    }
    return OK;
  }

  private onHeaders(flags: number, id: number, buf: Buffer, start: number, end: number): number {
    if (id === 0) return F.PROTOCOL_ERROR;
    const e = this.unpadded(flags, buf, start, end);
    if (e < 0) return -e;
    let s = this.payloadStart;
    if (flags & F.FLAG_PRIORITY) {
      if (e - s < 5) return F.FRAME_SIZE_ERROR;
      s += 5;
    }
    if (flags & F.FLAG_END_HEADERS) return this.headerBlock(id, flags, buf, s, e);
    this.blockStream = id;
    this.blockFlags = flags;
    this.blockParts = [buf.subarray(s, e)];
    this.blockSize = e - s;
    return OK;
  }

  private onContinuation(flags: number, id: number, buf: Buffer, start: number, end: number): number {
    if (this.blockStream === 0 || id !== this.blockStream) return F.PROTOCOL_ERROR;
    this.blockParts.push(buf.subarray(start, end));
    this.blockSize += end - start;
    if (this.blockSize > F.MAX_HEADER_BLOCK) return F.ENHANCE_YOUR_CALM;
    if ((flags & F.FLAG_END_HEADERS) === 0) return OK;
    const block = Buffer.concat(this.blockParts, this.blockSize);
    this.blockStream = 0;
    this.blockParts = [];
    return this.headerBlock(id, this.blockFlags, block, 0, block.length);
  }

  private headerBlock(id: number, flags: number, block: Buffer, start: number, end: number): number {
    const headers: string[] = [];
    // Decoded even for a stream that is gone: the HPACK table must follow every block.
    const size = this.decoder.decode(block, start, end, headers);
    if (size < 0) return F.COMPRESSION_ERROR;
    const endStream = (flags & F.FLAG_END_STREAM) !== 0;
    const stream = this.streams.get(id);
    if (stream === undefined) this.newStream(id, headers, endStream, size);
    else if (stream.remoteEnded) this.streamError(id, F.STREAM_CLOSED);
    else this.streamHeaders(stream, headers, endStream, size);
    return OK;
  }

  private onReset(id: number, buf: Buffer, start: number, end: number): number {
    if (end - start !== 4) return F.FRAME_SIZE_ERROR;
    if (id === 0) return F.PROTOCOL_ERROR;
    const stream = this.streams.get(id);
    if (stream === undefined) return this.isIdle(id) ? F.PROTOCOL_ERROR : OK;
    this.closeStream(stream);
    this.peerReset(stream);
    stream.handler.onReset(stream, buf.readUInt32BE(start));
    return OK;
  }

  private onSettings(flags: number, id: number, buf: Buffer, start: number, end: number): number {
    if (id !== 0) return F.PROTOCOL_ERROR;
    if (flags & F.FLAG_ACK) return end !== start ? F.FRAME_SIZE_ERROR : OK;
    if ((end - start) % 6 !== 0) return F.FRAME_SIZE_ERROR;
    for (let p = start; p < end; p += 6) {
      const value = buf.readUInt32BE(p + 2);
      switch (buf.readUInt16BE(p)) {
        case F.SETTINGS_HEADER_TABLE_SIZE:
          this.out.encoder.setPeerTableSize(Math.min(value, HEADER_TABLE_SIZE));
          break;
        case F.SETTINGS_ENABLE_PUSH:
          if (value > 1) return F.PROTOCOL_ERROR;
          break;
        case F.SETTINGS_MAX_CONCURRENT_STREAMS:
          this.peerMaxStreams = value;
          break;
        case F.SETTINGS_INITIAL_WINDOW_SIZE: {
          if (value > F.MAX_WINDOW) return F.FLOW_CONTROL_ERROR;
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const stream of this.streams.values()) stream.sendWindow += delta;
          if (delta > 0) this.unblock();
          break;
        }
        case F.SETTINGS_MAX_FRAME_SIZE:
          if (value < F.DEFAULT_MAX_FRAME || value > 0xffffff) return F.PROTOCOL_ERROR;
          this.out.maxFrame = value;
          break;
        default:
        // SETTINGS_MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored.
      }
    }
    this.control(this.out.settingsAck());
    return OK;
  }

  private onPing(flags: number, id: number, buf: Buffer, start: number, end: number): number {
    if (id !== 0) return F.PROTOCOL_ERROR;
    if (end - start !== 8) return F.FRAME_SIZE_ERROR;
    if (flags & F.FLAG_ACK) {
      this.pingAcked();
      return OK;
    }
    this.control(this.out.pingAck(buf, start));
    return OK;
  }

  /** The peer acknowledged a PING we sent (a client's keepalive). */
  protected pingAcked(): void {}

  private onGoaway(id: number, buf: Buffer, start: number, end: number): number {
    if (id !== 0) return F.PROTOCOL_ERROR;
    if (end - start < 8) return F.FRAME_SIZE_ERROR;
    this.goawayReceived = true;
    this.goaway(buf.readUInt32BE(start) & 0x7fffffff, buf.readUInt32BE(start + 4));
    this.finishIfDone();
    return OK;
  }

  /** The peer sent GOAWAY: streams we opened above `lastStreamId` were not processed. */
  protected goaway(_lastStreamId: number, _code: number): void {}

  private onWindowUpdate(id: number, buf: Buffer, start: number, end: number): number {
    if (end - start !== 4) return F.FRAME_SIZE_ERROR;
    const increment = buf.readUInt32BE(start) & 0x7fffffff;
    if (id === 0) {
      if (increment === 0) return F.PROTOCOL_ERROR;
      this.connSendWindow += increment;
      if (this.connSendWindow > F.MAX_WINDOW) return F.FLOW_CONTROL_ERROR;
      this.unblock();
      return OK;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) return this.isIdle(id) ? F.PROTOCOL_ERROR : OK;
    if (increment === 0) return this.streamError(id, F.PROTOCOL_ERROR);
    stream.sendWindow += increment;
    if (stream.sendWindow > F.MAX_WINDOW) return this.streamError(id, F.FLOW_CONTROL_ERROR);
    if (stream.pending !== null) this.unblock();
    return OK;
  }

  // --- writing -------------------------------------------------------------------------------

  /** A header block for stream `id`. */
  writeHeaders(id: number, headers: readonly string[], endStream: boolean): void {
    this.out.headers(id, headers, endStream);
  }

  /** DATA frames for `chunk` from `offset`, as far as the windows allow; returns the bytes sent. */
  writeData(stream: H2Stream, chunk: Buffer, offset: number, endStream: boolean): number {
    const total = chunk.length;
    if (total === 0) {
      if (endStream) this.out.data(stream.id, chunk, 0, 0, true);
      return 0;
    }
    let sent = offset;
    while (sent < total) {
      const n = Math.min(stream.sendWindow, this.connSendWindow, this.out.maxFrame, total - sent);
      if (n <= 0) break;
      this.out.data(stream.id, chunk, sent, n, endStream && sent + n === total);
      stream.sendWindow -= n;
      this.connSendWindow -= n;
      sent += n;
    }
    return sent - offset;
  }

  writeWindowUpdate(id: number, increment: number): void {
    this.out.windowUpdate(id, increment);
  }

  writeReset(id: number, code: number): void {
    this.control(this.out.reset(id, code));
  }

  /** A peer that makes us queue too many control frames without reading them is cut off (floods). */
  private control(queued: number): void {
    if (queued > F.MAX_QUEUED_CONTROL && this.out.full) this.connectionError(F.ENHANCE_YOUR_CALM);
  }

  get socketFull(): boolean {
    return this.out.full;
  }

  private readonly onDrain = (): void => {
    this.out.drained();
    for (const stream of this.streams.values())
      if (stream.wantWritable && stream.pending === null) {
        stream.wantWritable = false;
        stream.handler.onWritable(stream);
      }
  };

  /** A stream's bytes wait for window. */
  blocked(stream: H2Stream): void {
    this.blockedStreams.push(stream);
  }

  /** Window opened: send what waits, in the order it started waiting. */
  private unblock(): void {
    const list = this.blockedStreams;
    let kept = 0;
    for (let i = 0; i < list.length; i++) {
      const stream = list[i];
      if (stream.closed) continue;
      if (!stream.flushPending()) list[kept++] = stream;
      else if (stream.wantWritable && !this.out.full) {
        stream.wantWritable = false;
        stream.handler.onWritable(stream);
      }
    }
    list.length = kept;
  }

  // --- streams and the end of the connection ---------------------------------------------------

  protected addStream(id: number, handler: H2StreamHandler): H2Stream {
    const stream = new H2Stream(this, id, handler, this.peerInitialWindow);
    this.streams.set(id, stream);
    return stream;
  }

  closeStream(stream: H2Stream): void {
    if (stream.closed) return;
    stream.closed = true;
    stream.dropPending();
    this.streams.delete(stream.id);
    this.streamClosed(stream);
    this.finishIfDone();
  }

  /** A stream error: RST_STREAM to the peer, and the stream's owner hears of it. Returns OK: the connection goes on. */
  protected streamError(id: number, code: number): number {
    this.writeReset(id, code);
    const stream = this.streams.get(id);
    if (stream !== undefined) {
      this.closeStream(stream);
      stream.handler.onReset(stream, code);
    }
    return OK;
  }

  /** A connection error: GOAWAY with `code`, every stream reset, the socket closed once written. */
  connectionError(code: number): void {
    if (this.destroyed) return;
    this.out.goaway(this.lastPeerStream(), code);
    this.goawaySent = true;
    this.out.flush();
    this.endSocket();
    this.abortStreams(code);
  }

  /** Graceful: GOAWAY, no new streams; the connection closes when its streams are done. */
  close(): void {
    if (this.destroyed) return;
    if (!this.goawaySent) {
      this.goawaySent = true;
      this.out.goaway(this.lastPeerStream(), F.NO_ERROR);
    }
    this.finishIfDone();
  }

  /** Ends the connection now. */
  destroy(): void {
    if (this.destroyed) return;
    this.socket.destroy();
    this.abortStreams(F.CANCEL);
  }

  private finishIfDone(): void {
    if ((this.goawaySent || this.goawayReceived) && this.streams.size === 0 && !this.destroyed) {
      this.out.flush();
      this.endSocket();
      this.destroyed = true;
    }
  }

  /**
   * The socket closed: drops the buffers and header tables the session holds, so that keeping it
   * (keepShape, which keeps the hidden classes of the HTTP/2 path) costs little memory. It stores
   * only fields that traffic already changes: a first store to a field that never changed would
   * deoptimize the code that read it as a constant.
   */
  release(): void {
    this.reader.release();
    this.out.release();
    this.out.encoder.release();
    this.decoder.release();
    this.blockParts.length = 0;
  }

  /** Ends our side; a peer that does not close its side within a while is cut off. */
  private endSocket(): void {
    const socket = this.socket;
    socket.end();
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  private abortStreams(code: number): void {
    this.destroyed = true;
    const reported = this.abortCode(code);
    for (const stream of [...this.streams.values()]) {
      this.closeStream(stream);
      stream.handler.onReset(stream, reported);
    }
  }

  /** The code streams hear when the connection ends under them (a client reports a failed connect). */
  protected abortCode(code: number): number {
    return code;
  }

  private readonly onSocketClose = (): void => {
    this.abortStreams(F.CANCEL);
    this.destroyed = true;
    this.closed();
  };

  /** The peer closed its side: nothing more arrives, the connection ends when its streams are done. */
  private readonly onSocketEnd = (): void => {
    this.goawayReceived = true;
    for (const stream of [...this.streams.values()])
      if (!stream.remoteEnded) {
        this.closeStream(stream);
        stream.handler.onReset(stream, F.CANCEL);
      }
    this.finishIfDone();
  };

  private readonly onSocketError = (): void => {
    // 'close' follows.
  };
}
