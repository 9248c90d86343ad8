// The HTTP/2 downstream codec (h2c, TLS h2 or gRPC): one stream of the proxy's HTTP/2 server session ⇄ one HttpStream.
import type { Cluster } from '../../cluster/cluster.ts';
import { connectTunnelUpstream } from '../../cluster/tunnel-upstream.ts';
import type { IdleMember, IdleSweep } from '../../common/idle-sweep.ts';
import { RESPONSE_FLAGS_HEADER, type ResponseFlag } from '../../common/response-flags.ts';
import type { SessionIdle } from '../../common/session-idle.ts';
import { splice } from '../../common/splice.ts';
import { tlsConnectionFacts } from '../../tls/connection-facts.ts';
import type { DownstreamConnection } from '../filters/filter.ts';
import { grpcStatusFor, LOCAL_BODY } from '../local-reply.ts';
import type { RouteDecision } from '../router/router.ts';
import { chain, HOP_BY_HOP } from '../router/upstream-h2.ts';
import type { DownstreamCodec, WireFraming } from '../stream/codec.ts';
import { HttpStream } from '../stream/http-stream.ts';
import type { StreamManager } from '../stream/stream-api.ts';
import { INTERNAL_ERROR, NO_ERROR } from './frames.ts';
import type { RequestCheck } from './request-headers.ts';
import type { H2Stream, H2StreamHandler } from './stream.ts';
import { H2StreamDuplex } from './stream-duplex.ts';

export class H2ServerStream implements DownstreamCodec, IdleMember, H2StreamHandler {
  private readonly h2: H2Stream;
  readonly stream: HttpStream;
  readonly decodesResponseBody = true;
  /** Trailers to send when the response body ends. */
  private trailers: string[] | null = null;
  /** stream_idle_timeout: the connection manager's sweep (undefined: none, or a CONNECT stream). */
  private readonly idle: IdleSweep | undefined;
  idleTicks = 0;
  /** Counts this stream while it is open, for the session's idle_timeout (undefined when off). */
  private readonly sessionIdle: SessionIdle | undefined;
  /** Called once the client drained (or went away). */
  private drained: (() => void) | null = null;
  /** A CONNECT stream's bytes that came before its tunnel was up (null: not a CONNECT stream). */
  private early: Buffer[] | null = null;

  /**
   * `idle`: where stream_idle_timeout is kept, `sessionIdle`: the session's idle_timeout, which
   * has counted this stream as opened (each undefined when off). `tooLarge`: the header list is
   * over the limits (431).
   */
  constructor(
    hcm: StreamManager,
    h2: H2Stream,
    headers: string[],
    endStream: boolean,
    check: RequestCheck,
    tooLarge: boolean,
    idle: IdleSweep | undefined,
    sessionIdle: SessionIdle | undefined,
  ) {
    this.h2 = h2;
    this.sessionIdle = sessionIdle;
    const stream = new HttpStream(hcm, this);
    this.stream = stream;
    const head = stream.head;
    head.protocol = 'HTTP/2';
    head.method = check.method;
    head.scheme = check.scheme || 'http';
    head.authority = check.authority;
    // A fragment is never part of a request (RFC 9110 4.2.5); Envoy strips it before any filter.
    const path = check.path;
    const hash = path.indexOf('#');
    head.path = hash < 0 ? path : path.slice(0, hash);
    head.remoteAddress = h2.session.socket.remoteAddress ?? '';
    stream.contentLength = check.contentLength;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (name.charCodeAt(0) === 58 || name === 'content-length') continue;
      if (name === 'host') {
        if (head.authority === '') head.authority = headers[i + 1];
        continue;
      }
      head.headers.push(name, headers[i + 1]);
    }
    stream.framing = endStream ? 'none' : 'frames';
    // stream_idle_timeout: nothing received or sent on this stream for that long ends it (408, or a reset).
    this.idle = head.method === 'CONNECT' ? undefined : idle;
    if (head.method === 'CONNECT') this.early = [];
    this.idle?.add(this);
    hcm.stats.rqHttp2++;
    if (tooLarge) stream.rejectRequest(431, 'header list too large');
    else stream.decodeHeaders(endStream);
  }

  onHeaders(): void {
    // Request trailers end the request (they are not forwarded, as before).
    this.idleTicks = 0;
    this.stream.decodeComplete();
  }

  onData(_h2: H2Stream, chunk: Buffer, endStream: boolean): void {
    this.idleTicks = 0;
    if (this.early !== null) {
      // The tunnel's bytes, not a request body.
      if (chunk.length > 0) this.early.push(Buffer.from(chunk));
      return;
    }
    if (chunk.length > 0) this.stream.decodeData(chunk);
    if (endStream) this.stream.decodeComplete();
  }

  onReset(): void {
    this.stream.downstreamReset();
    this.onWritable();
  }

  onWritable(): void {
    const resume = this.drained;
    this.drained = null;
    resume?.();
  }

  /** The stream left its session (completed or reset). */
  closed(): void {
    this.idle?.delete(this);
    this.sessionIdle?.streamClosed();
  }

  onIdle(): void {
    this.stream.idleTimeout();
  }

  connectionFacts(): DownstreamConnection {
    const socket = this.h2.session.socket;
    return {
      sourceIp: this.stream.head.remoteAddress,
      destinationIp: socket.localAddress,
      destinationPort: socket.localPort ?? 0,
      ...tlsConnectionFacts(socket),
    };
  }

  decodeRequestBody(): void {
    // DATA frames carry no framing of their own.
  }

  pauseReading(paused: boolean): void {
    this.h2.pause(paused);
  }

  encodeHeaders(
    status: number,
    _reason: string,
    headers: string[],
    _framing: WireFraming,
    contentLength: number,
    _upstreamCloses: boolean,
    endStream: boolean,
  ): void {
    this.idleTicks = 0;
    const cfg = this.stream.hcm.config;
    const out = [':status', String(status)];
    const overwrite = cfg.serverHeader === 'OVERWRITE';
    let hasServer = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (HOP_BY_HOP.has(name) || (name === 'content-length' && contentLength >= 0)) continue;
      if (name === 'server') {
        if (overwrite) continue;
        hasServer = true;
      }
      out.push(name, headers[i + 1]);
    }
    if (contentLength >= 0) out.push('content-length', String(contentLength));
    if (overwrite || (cfg.serverHeader === 'APPEND_IF_ABSENT' && !hasServer))
      out.push('server', cfg.serverName);
    this.h2.sendHeaders(out, endStream);
  }

  encodeData(chunk: Buffer, borrowed: boolean): boolean {
    this.idleTicks = 0;
    // Frames are queued: borrowed bytes are copied first.
    this.h2.write(borrowed ? Buffer.from(chunk) : chunk);
    return !borrowed;
  }

  get needsDrain(): boolean {
    return this.h2.pending !== null || this.h2.session.socketFull;
  }

  onceDrained(resume: () => void): void {
    // Also on reset: a client that went away never drains, and an upstream left paused for it
    // would never be read again.
    if (this.h2.closed) {
      resume();
      return;
    }
    const earlier = this.drained;
    this.drained = earlier === null ? resume : chain(earlier, resume);
    this.h2.wantWritable = true;
  }

  flush(): void {
    // Frames go out once per tick anyway.
  }

  encodeTrailers(trailers: string[]): void {
    this.trailers = trailers;
  }

  encodeEnd(): void {
    const t = this.trailers;
    if (t !== null && t.length > 0) this.h2.sendHeaders(t, true);
    else this.h2.end();
  }

  encodeLocalReply(
    status: number,
    body: string,
    flag: ResponseFlag | undefined,
    extra: string[] | null,
    grpc: boolean,
  ): void {
    const headers: string[] = [':status', ''];
    if (flag) headers.push(RESPONSE_FLAGS_HEADER, flag);
    let grpcStatus = '';
    if (extra !== null)
      for (let i = 0; i < extra.length; i += 2) {
        if (extra[i] === 'grpc-status') grpcStatus = extra[i + 1];
        else headers.push(extra[i], extra[i + 1]);
      }
    headers.push('server', this.stream.hcm.config.serverName);
    if (grpc || grpcStatus !== '') {
      headers[1] = '200';
      // A filter may name the gRPC status itself (fault abort with grpc_status).
      headers.push('content-type', 'application/grpc');
      headers.push('grpc-status', grpcStatus || String(grpcStatusFor(status)));
      headers.push('grpc-message', encodeURIComponent(body));
      this.h2.sendHeaders(headers, true);
      return;
    }
    headers[1] = String(status);
    if (body !== '') headers.push('content-type', 'text/plain');
    headers.push('content-length', String(Buffer.byteLength(body)));
    const bodyless = body === '' || this.stream.head.method === 'HEAD';
    this.h2.sendHeaders(headers, bodyless);
    if (!bodyless) this.h2.write(Buffer.from(body), true);
  }

  resetStream(): void {
    this.h2.reset(INTERNAL_ERROR);
  }

  streamDone(): void {
    // The response is complete but the request is not: the client can stop sending (RST_STREAM
    // NO_ERROR, RFC 9113 8.1, as Envoy does).
    const h2 = this.h2;
    if (!h2.closed && h2.localEnded && !h2.remoteEnded) h2.reset(NO_ERROR);
  }

  tunnel(cluster: Cluster, decision: RouteDecision): void {
    const stream = this.stream;
    const host = cluster.pick(decision);
    if (!host) {
      stream.localReply(503, LOCAL_BODY.noHealthyUpstream, 'UH');
      return;
    }
    connectTunnelUpstream(cluster, host, {
      failed: () => stream.localReply(503, LOCAL_BODY.connectFailure, 'UF'),
      ready: (up) => {
        if (!stream.active || this.h2.closed) return up.destroy();
        cluster.stats.status(200);
        this.h2.sendHeaders([':status', '200'], false);
        stream.hcm.stats.upgrades++;
        stream.tunnelEstablished(200);
        const early = this.early === null ? undefined : Buffer.concat(this.early);
        this.early = null;
        splice(new H2StreamDuplex(this.h2), up, early);
      },
    });
  }
}
