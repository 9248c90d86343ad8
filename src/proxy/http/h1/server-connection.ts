// The HTTP/1.1 downstream codec: request bytes → HttpStream, the stream's response → bytes; keep-alive, tunnels.

import type net from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Cluster } from '../../cluster/cluster.ts';
import { connectTunnelUpstream } from '../../cluster/tunnel-upstream.ts';
import type { ResponseFlag } from '../../common/response-flags.ts';
import { splice } from '../../common/splice.ts';
import { canReadInto, readInto } from '../../common/user-read-buffer.ts';
import { tlsConnectionFacts } from '../../tls/connection-facts.ts';
import type { DownstreamConnection } from '../filters/filter.ts';
import { h1LocalReply, LOCAL_BODY } from '../local-reply.ts';
import type { RouteDecision } from '../router/router.ts';
import type { DownstreamCodec, WireFraming } from '../stream/codec.ts';
import { HttpStream } from '../stream/http-stream.ts';
import type { StreamManager } from '../stream/stream-api.ts';
import { sniffTunnel, tunnelMayCarryHttp, tunnelSpeculation } from './connect-http.ts';
import { BodyReader, HeadInfo, headerLines, parseRequestHead } from './parser.ts';
import { HeldResponseHead } from './response-head.ts';
import { H1Timeouts } from './timeouts.ts';

const EMPTY = Buffer.alloc(0);
/** Pipelined bytes held while a response is in progress before the client is paused. */
const PIPELINE_LIMIT = 1024 * 1024;
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const CHUNKED_LINE = 'transfer-encoding: chunked\r\n';
/**
 * Where every plaintext connection of the process reads (Node's `onread` mode): a read is parsed
 * before the next one can happen, and what outlives it (a partial head, body bytes, a pipelined
 * request) is copied. Saves the per-read ArrayBuffer and the Readable stream's work.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
/**
 * Where every TLS connection reads (at most one 16 KiB piece of a record per read). Each read is
 * copied at once: a write to a TLS socket can deliver another read before the first is handled.
 */
const TLS_READ_BUFFER = Buffer.allocUnsafe(16 * 1024);
/** Where the connection is in its request/response cycle. */
type ConnState = 'idle' | 'active' | 'tunnel' | 'closed';

export class H1ServerConnection implements DownstreamCodec {
  readonly socket: net.Socket;
  private readonly hcm: StreamManager;
  /** The one stream of this connection, reused for each request. */
  readonly stream: HttpStream;
  /** The client's address, read once per connection. */
  private readonly remoteAddress: string;
  private readonly info = new HeadInfo();
  private readonly reqReader = new BodyReader();
  /** idle_timeout, stream_idle_timeout, request_headers_timeout, max_connection_duration. */
  private readonly timeouts: H1Timeouts;
  private state: ConnState = 'idle';
  /** Bytes received but not yet parsed (partial head, or a pipelined next request). */
  private pending: Buffer = EMPTY;
  /** Close the downstream connection after the current response. */
  private closeAfter = false;
  /** Connection facts for filters, built on first use. */
  private facts: DownstreamConnection | undefined;
  /** The response body arrives as bare bytes (an HTTP/2 upstream) and is chunk-encoded here. */
  private chunkEncode = false;
  private trailers: string[] | null = null;
  /** A response head held back to leave with the first body bytes. */
  private readonly held = new HeldResponseHead();

  constructor(socket: net.Socket, hcm: StreamManager, initial: Buffer) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.hcm = hcm;
    this.stream = new HttpStream(hcm, this);
    socket.setNoDelay(true);
    const cfg = hcm.config;
    this.timeouts = new H1Timeouts(cfg, this.onIdle, this.onHeadersTimeout, () => {
      hcm.stats.cxMaxDurationReached++;
      this.drain();
    });
    this.timeouts.idle(socket);
    socket.on('timeout', this.timeouts.fire);
    if (!canReadInto(socket)) socket.on('data', this.onData);
    else if (socket instanceof TLSSocket) readInto(socket, TLS_READ_BUFFER, this.onTlsRead, null);
    else readInto(socket, READ_BUFFER, this.onRead, null);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    hcm.stats.cxTotal++;
    hcm.stats.cxActive++;
    if (initial.length > 0) this.onData(initial);
    socket.resume();
  }

  /** Stop keeping the connection alive: close now when idle, else after the current response. */
  drain(): void {
    this.closeAfter = true;
    if (this.state === 'idle' && this.pending.length === 0) this.closeWrite();
  }

  /**
   * Ends our side; the client gets delayed_close_timeout to close its side (so that it reads the
   * last response before a reset), then the socket is destroyed. 0: destroyed once written.
   */
  private closeWrite(): void {
    this.state = 'closed';
    this.socket.end();
    const ms = this.hcm.config.delayedCloseTimeoutMs;
    if (ms > 0) this.timeouts.closing(this.socket, ms);
    else this.socket.destroySoon();
  }

  /**
   * Gives the socket up when the connection is idle (no request, no byte of the next one): this
   * connection stops listening to it and is closed here; the socket stays open. Undefined when busy.
   */
  release(): net.Socket | undefined {
    if (this.state !== 'idle' || this.pending.length > 0) return undefined;
    const s = this.socket;
    s.off('timeout', this.timeouts.fire);
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('error', this.onError);
    s.off('close', this.onClose);
    s.setTimeout(0);
    this.onClose();
    return s;
  }

  // ---- decoding: bytes → stream ----

  /** A read into READ_BUFFER: a head that arrives whole is parsed in place, anything else is copied. */
  private readonly onRead = (bytes: number, buffer: Buffer): boolean => {
    const chunk = buffer.subarray(0, bytes);
    if (this.state === 'idle' && this.pending.length === 0) this.parseHead(chunk, true);
    else this.received(Buffer.from(chunk));
    return true;
  };

  /** A read into TLS_READ_BUFFER, copied before anything else can read into it. */
  private readonly onTlsRead = (bytes: number, buffer: Buffer): boolean => {
    this.received(Buffer.from(buffer.subarray(0, bytes)));
    return true;
  };

  private received(chunk: Buffer): void {
    if (this.state === 'idle' || this.state === 'active') this.onData(chunk);
    // No longer HTTP/1.1 here (a tunnel, a released socket): its new reader listens for 'data'.
    else if (this.socket.listenerCount('data') > 0) this.socket.emit('data', chunk);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.state === 'idle') {
      const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      this.pending = EMPTY;
      this.parseHead(buf);
      return;
    }
    if (this.state !== 'active') return;
    if (this.stream.requestDone) {
      // Pipelined bytes of the next request: keep them until this response is done.
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      if (this.pending.length > PIPELINE_LIMIT) this.socket.pause();
      return;
    }
    this.requestBody(chunk, 0);
  };

  /** `borrowed`: `buf` is READ_BUFFER, overwritten by the next read (what is kept is copied). */
  private parseHead(buf: Buffer, borrowed = false): void {
    const head = this.stream.head;
    head.reset();
    this.info.reset();
    const outcome = parseRequestHead(buf, head, this.info);
    if (outcome === 'incomplete') {
      this.pending = borrowed ? Buffer.from(buf) : buf;
      this.timeouts.headStarted(this.socket);
      return;
    }
    this.timeouts.headDone(this.socket);
    if (outcome === 'too_large') {
      this.protocolError(431, 'request headers too large');
      return;
    }
    if (outcome === 'invalid') {
      this.protocolError(this.info.error.includes('transfer-encoding') ? 501 : 400, this.info.error);
      return;
    }
    this.startRequest();
    const headLength = this.info.headLength;
    if (buf.length === headLength) return;
    const rest = borrowed ? Buffer.from(buf.subarray(headLength)) : buf;
    const off = borrowed ? 0 : headLength;
    if (this.state === 'active') this.requestBody(rest, off);
    else if (this.state === 'idle') {
      // A local reply finished the request at once; parse what follows as the next request.
      this.pending = rest.subarray(off);
    }
  }

  private startRequest(): void {
    this.state = 'active';
    const info = this.info;
    const stream = this.stream;
    this.hcm.stats.rqHttp1++;
    stream.head.remoteAddress = this.remoteAddress;
    if (info.close) this.closeAfter = true;
    // Chunked bodies are re-framed: the upstream never parses the client's chunk bytes.
    this.reqReader.start(info.framing, info.contentLength, false, true);
    if (info.expectContinue && info.minor === 1) this.socket.write(CONTINUE);
    stream.framing = info.framing;
    stream.contentLength = info.contentLength;
    stream.upgrade = info.upgrade;
    stream.decodeHeaders(this.reqReader.done);
  }

  /** Consumes request body bytes `buf[off..]`; bytes after the body are kept as the next request. */
  private requestBody(buf: Buffer, off: number): void {
    const reader = this.reqReader;
    const n = reader.read(buf, off);
    if (n < 0) {
      // A malformed body: 400 when no response has started (else a reset); no upstream reuse.
      this.hcm.stats.protocolError++;
      this.closeAfter = true;
      this.stream.rejectBody(reader.error);
      return;
    }
    const stream = this.stream;
    if (n > 0) {
      if ((reader.decode || reader.reframe) && reader.framing === 'chunked') {
        const parts = reader.decoded;
        for (let i = 0; i < parts.length; i++) stream.decodeData(parts[i]);
        parts.length = 0;
      } else stream.decodeData(off === 0 && n === buf.length ? buf : buf.subarray(off, off + n));
    }
    if (reader.done && this.state === 'active') {
      stream.decodeComplete();
      if (off + n < buf.length) {
        this.pending = buf.subarray(off + n);
        if ((this.state as ConnState) === 'idle') this.next();
      }
    }
  }

  private protocolError(status: number, detail: string): void {
    this.hcm.stats.protocolError++;
    this.state = 'active';
    this.closeAfter = true;
    this.stream.rejectRequest(status, detail);
  }

  // ---- DownstreamCodec ----

  get decodesResponseBody(): boolean {
    // An HTTP/1.0 client cannot take a chunked body: de-chunk it and close-delimit instead.
    return this.info.minor === 0;
  }

  connectionFacts(): DownstreamConnection {
    const socket = this.socket;
    this.facts ??= {
      sourceIp: this.remoteAddress,
      destinationIp: socket.localAddress,
      destinationPort: socket.localPort ?? 0,
      ...tlsConnectionFacts(socket),
    };
    return this.facts;
  }

  decodeRequestBody(): void {
    this.reqReader.decode = true;
  }

  pauseReading(paused: boolean): void {
    if (paused) this.socket.pause();
    else if (this.state === 'active' || this.state === 'idle') this.socket.resume();
  }

  encodeHeaders(
    status: number,
    reason: string,
    headers: string[],
    framing: WireFraming,
    contentLength: number,
    upstreamCloses: boolean,
    endStream: boolean,
  ): void {
    if (framing !== 'frames') {
      this.writeResponseHead(status, reason, headers, framing, contentLength, upstreamCloses);
      return;
    }
    // Bare body bytes (an HTTP/2 upstream): a length when known, else chunks (HTTP/1.0: until close).
    const method = this.stream.head.method;
    const bodyless = endStream || method === 'HEAD' || status === 204 || status === 304;
    this.chunkEncode = !bodyless && contentLength < 0 && this.info.minor !== 0;
    const length = contentLength >= 0 ? contentLength : bodyless ? 0 : -1;
    this.writeResponseHead(status, reason, headers, this.chunkEncode ? 'chunked' : 'length', length, false);
    this.held.write(this.socket, null);
  }

  private writeResponseHead(
    status: number,
    reason: string,
    headers: string[],
    framing: string,
    contentLength: number,
    upstreamCloses: boolean,
  ): void {
    const cfg = this.hcm.config;
    // The framing line and the end of the head are constants (a concatenated string would be
    // flattened by a runtime call when its bytes are written); a length is written as digits.
    let framingLine = '';
    let length = -1;
    if (framing === 'chunked' && this.info.minor === 0) this.closeAfter = true;
    else if (framing === 'chunked') framingLine = CHUNKED_LINE;
    else if (contentLength >= 0) length = contentLength;
    else if (framing === 'length') this.closeAfter = true;
    else if (framing === 'eof' && !upstreamCloses) length = 0;
    // A close-delimited upstream body must be close-delimited downstream too.
    if (framing === 'eof') this.closeAfter = true;
    if (this.hcm.draining) this.closeAfter = true;
    const end = this.closeAfter
      ? 'connection: close\r\n\r\n'
      : // An HTTP/1.0 client keeps the connection only when told so (ab -k, old clients).
        this.info.minor === 0
        ? 'connection: keep-alive\r\n\r\n'
        : '\r\n';
    // Held until the body bytes of the same read arrive, so head and body leave in one write.
    this.held.hold(status, reason, headers, framingLine, length, end, cfg.serverHeader, cfg.serverName);
  }

  flush(): void {
    if (this.held.pending) this.held.write(this.socket, null);
  }

  encodeData(chunk: Buffer, borrowed: boolean): boolean {
    const socket = this.socket;
    if (this.chunkEncode) {
      socket.write(`${chunk.length.toString(16)}\r\n`);
      socket.write(borrowed ? Buffer.from(chunk) : chunk);
      socket.write('\r\n');
      return !borrowed;
    }
    // Small pieces are copied (an upstream's read buffer is reused), into the held head when there
    // is one; large ones are lent, unless borrowed.
    const small = chunk.length <= 16384;
    const lent = !small && !borrowed;
    if (this.held.pending && (small || lent)) this.held.write(socket, chunk);
    else {
      if (this.held.pending) this.held.write(socket, null);
      socket.write(lent ? chunk : Buffer.from(chunk));
    }
    return lent;
  }

  get needsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  onceDrained(resume: () => void): void {
    // Also on close: a client that went away never drains, and an upstream connection left paused
    // for it would go back to the pool paused (the next request on it would never be answered).
    const client = this.socket;
    if (client.destroyed) {
      resume();
      return;
    }
    const done = () => {
      client.off('drain', done);
      client.off('close', done);
      resume();
    };
    client.on('drain', done);
    client.on('close', done);
  }

  encodeTrailers(trailers: string[]): void {
    // Raw chunked bodies carry their trailers in their own bytes; bare bodies get them at the end.
    if (this.chunkEncode) this.trailers = trailers;
  }

  encodeEnd(): void {
    if (this.held.pending) this.held.write(this.socket, null);
    if (this.chunkEncode) {
      let tail = '0\r\n';
      const t = this.trailers;
      if (t !== null) for (let i = 0; i < t.length; i += 2) tail += `${t[i]}: ${t[i + 1]}\r\n`;
      this.socket.write(`${tail}\r\n`);
      this.chunkEncode = false;
      this.trailers = null;
    }
  }

  encodeLocalReply(
    status: number,
    body: string,
    flag: ResponseFlag | undefined,
    extraHeaders: string[] | null,
    grpc: boolean,
  ): void {
    if (!this.stream.requestDone || this.hcm.draining) this.closeAfter = true;
    const text = h1LocalReply(
      status,
      this.stream.head.method === 'HEAD' ? '' : body,
      flag,
      this.closeAfter,
      extraHeaders ?? undefined,
      grpc,
      this.hcm.config.serverName,
    );
    this.socket.write(text, 'latin1');
  }

  resetStream(): void {
    this.state = 'closed';
    this.socket.destroy();
  }

  /** The exchange is over: read the next request, or close. */
  streamDone(): void {
    this.chunkEncode = false;
    this.trailers = null;
    if (!this.stream.requestDone || this.closeAfter || this.hcm.draining) {
      this.closeWrite();
      return;
    }
    this.state = 'idle';
    this.timeouts.idle(this.socket);
    this.next();
  }

  private next(): void {
    if (this.socket.isPaused()) this.socket.resume();
    if (this.pending.length > 0) {
      const buf = this.pending;
      this.pending = EMPTY;
      this.parseHead(buf);
    }
  }

  // ---- CONNECT tunnels and upgrades ----

  tunnel(cluster: Cluster, decision: RouteDecision): void {
    if (tunnelMayCarryHttp(this.hcm.routes(), this.stream.head.authority)) this.sniffConnect();
    else this.openTunnel(cluster, decision, undefined);
  }

  /**
   * CONNECT to a service's HTTP port: answered at once, then the tunnel's first bytes decide.
   * HTTP/1.x inside is served by this connection manager as if sent directly (routes, faults,
   * retries: Envoy terminating CONNECT and re-running the HCM); anything else (TLS) is tunnelled.
   */
  private sniffConnect(): void {
    const cluster = this.stream.router.cluster!;
    const decision = this.stream.router.decision;
    this.socket.write('HTTP/1.1 200 OK\r\n\r\n');
    const initial = this.pending;
    this.pending = EMPTY;
    this.stream.tunnelEstablished(200);
    this.state = 'tunnel';
    this.timeouts.tunnel(this.socket);
    this.socket.removeListener('data', this.onData);
    this.socket.removeListener('end', this.onEnd);
    const speculate = tunnelSpeculation(cluster, decision);
    sniffTunnel(
      this.socket,
      initial,
      (content, bytes, spec) => {
        if (this.socket.destroyed) return spec?.cancel();
        if (content === 'opaque') {
          if (!spec) return this.openTunnel(cluster, decision, bytes);
          // The upstream opened on speculation (a server that speaks first) carries the tunnel.
          spec.take((up, greeting) =>
            up ? this.joinSniffed(cluster, up, bytes, greeting) : this.openTunnel(cluster, decision, bytes),
          );
          return;
        }
        spec?.cancel();
        // The tunnel becomes a new HTTP/1.1 connection of this manager; this one steps aside.
        this.socket.removeListener('error', this.onError);
        this.socket.removeListener('close', this.onClose);
        this.stream.router.dispose();
        this.hcm.connectionClosed(this);
        this.hcm.stats.cxActive--;
        this.hcm.stats.cxTotal--;
        this.state = 'closed';
        this.hcm.handle(this.socket, bytes);
      },
      speculate,
    );
  }

  /** Tunnels CONNECT to an upstream host; `sniffed`: already answered 200, these bytes go first. */
  private openTunnel(cluster: Cluster, decision: RouteDecision, sniffed: Buffer | undefined): void {
    const stream = this.stream;
    const host = cluster.pick(decision);
    if (!host) {
      if (sniffed) this.socket.destroy();
      else stream.localReply(503, LOCAL_BODY.noHealthyUpstream, 'UH');
      return;
    }
    connectTunnelUpstream(cluster, host, {
      failed: () => {
        if (sniffed) this.socket.destroy();
        else stream.localReply(503, LOCAL_BODY.connectFailure, 'UF');
      },
      ready: (up) => {
        if (sniffed) return this.joinSniffed(cluster, up, sniffed, EMPTY);
        if (this.state !== 'active' || !stream.active) return up.destroy();
        cluster.stats.status(200);
        this.socket.write('HTTP/1.1 200 OK\r\n\r\n');
        const pending = this.pending;
        this.pending = EMPTY;
        stream.tunnelEstablished(200);
        this.beginTunnel(up, pending, EMPTY);
      },
    });
  }

  /** Joins an already answered (sniffed) tunnel to its upstream. */
  private joinSniffed(cluster: Cluster, up: net.Socket, sniffed: Buffer, greeting: Buffer): void {
    if (this.socket.destroyed) return void up.destroy();
    cluster.stats.status(200);
    this.socket.removeListener('error', this.onError);
    splice(this.socket, up, sniffed, greeting);
  }

  upgrade(up: net.Socket, info: HeadInfo, headers: string[], rest: Buffer): void {
    const out = `HTTP/1.1 101 ${info.reason || 'Switching Protocols'}\r\n${headerLines(headers)}connection: upgrade\r\nupgrade: ${this.info.upgrade}\r\n\r\n`;
    this.socket.write(out, 'latin1');
    const pending = this.pending;
    this.pending = EMPTY;
    this.stream.tunnelEstablished(101);
    this.beginTunnel(up, pending, rest);
  }

  private beginTunnel(up: net.Socket, downHead: Buffer, upHead: Buffer): void {
    // Route timeouts end with the upgrade (Envoy); the tunnel lives as long as its two ends.
    this.state = 'tunnel';
    this.timeouts.tunnel(this.socket);
    this.socket.removeListener('data', this.onData);
    this.socket.removeListener('end', this.onEnd);
    this.socket.removeListener('error', this.onError);
    splice(this.socket, up, downHead, upHead);
  }

  // ---- connection events ----

  private readonly onEnd = (): void => {
    // The client half-closed. Mid-body that is an abort; otherwise finish the response, then close.
    if (this.state === 'active' && !this.stream.requestDone) {
      this.stream.downstreamReset();
      this.state = 'closed';
      this.socket.destroy();
      return;
    }
    this.closeAfter = true;
    if (this.state === 'idle') this.closeWrite();
  };

  private readonly onError = (): void => {
    // 'close' follows and cleans up.
  };

  /** idle_timeout with no request, or stream_idle_timeout with one: close, or end the request (408). */
  private readonly onIdle = (): void => {
    if (this.state === 'closed') {
      // delayed_close_timeout: the client did not close after our last response.
      this.socket.destroy();
      return;
    }
    if (this.state === 'active') {
      this.closeAfter = true;
      this.stream.idleTimeout();
      return;
    }
    if (this.pending.length > 0) {
      this.hcm.stats.rqIdleTimeout++;
      this.protocolError(408, 'stream timeout');
      return;
    }
    this.hcm.stats.cxIdleTimeout++;
    this.state = 'closed';
    this.socket.destroy();
  };

  /** request_headers_timeout: the head did not arrive in time. */
  private readonly onHeadersTimeout = (): void => {
    if (this.state !== 'idle' || this.pending.length === 0) return;
    this.hcm.stats.rqHeaderTimeout++;
    this.protocolError(408, 'request headers timeout');
  };

  private readonly onClose = (): void => {
    this.timeouts.clear();
    this.stream.router.dispose();
    this.hcm.stats.cxActive--;
    this.hcm.connectionClosed(this);
    if (this.state === 'active') this.stream.downstreamReset();
    this.state = 'closed';
  };
}
