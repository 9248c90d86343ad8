// The HTTP/2 downstream codec (h2c or gRPC): one node:http2 server stream ⇄ one HttpStream.
import http2 from 'node:http2';
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
import { HOP_BY_HOP } from '../router/upstream-h2.ts';
import type { DownstreamCodec, WireFraming } from '../stream/codec.ts';
import { HttpStream } from '../stream/http-stream.ts';
import type { StreamManager } from '../stream/stream-api.ts';

const { NGHTTP2_FLAG_END_STREAM, NGHTTP2_INTERNAL_ERROR } = http2.constants;

export class H2ServerStream implements DownstreamCodec, IdleMember {
  private readonly h2: http2.ServerHttp2Stream;
  readonly stream: HttpStream;
  readonly decodesResponseBody = true;
  /** Trailers to send when the response body ends. */
  private trailers: string[] | null = null;
  /** stream_idle_timeout: the connection manager's sweep (undefined: none, or a CONNECT stream). */
  private readonly idle: IdleSweep | undefined;
  idleTicks = 0;

  /** Counts this stream while it is open, for the session's idle_timeout (undefined when off). */
  private readonly sessionIdle: SessionIdle | undefined;

  /**
   * `idle`: where stream_idle_timeout is kept, `sessionIdle`: the session's idle_timeout, which
   * has counted this stream as opened (each undefined when off).
   */
  constructor(
    hcm: StreamManager,
    h2: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    flags: number,
    idle: IdleSweep | undefined,
    sessionIdle: SessionIdle | undefined,
  ) {
    this.h2 = h2;
    this.sessionIdle = sessionIdle;
    const stream = new HttpStream(hcm, this);
    this.stream = stream;
    const endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    // A request without a body still has a readable side: consume it so that the stream ends
    // cleanly (otherwise every close counts as premature and costs an error object).
    if (endStream) h2.resume();
    const head = stream.head;
    head.protocol = 'HTTP/2';
    head.method = String(headers[':method'] ?? 'GET');
    head.scheme = String(headers[':scheme'] ?? 'http');
    head.authority = String(headers[':authority'] ?? headers.host ?? '');
    const path = String(headers[':path'] ?? '');
    // A fragment is never part of a request (RFC 9110 4.2.5); Envoy strips it before any filter.
    const hash = path.indexOf('#');
    head.path = hash < 0 ? path : path.slice(0, hash);
    head.remoteAddress = h2.session?.socket?.remoteAddress ?? '';
    for (const name in headers) {
      if (name.charCodeAt(0) === 58 || HOP_BY_HOP.has(name)) continue;
      const value = headers[name];
      if (name === 'content-length') {
        stream.contentLength = Number(value);
        continue;
      }
      if (Array.isArray(value)) for (const v of value) head.headers.push(name, v);
      else if (value !== undefined) head.headers.push(name, String(value));
    }
    stream.framing = endStream ? 'none' : 'frames';
    h2.on('error', this.onGone);
    h2.on('close', this.onClose);
    // stream_idle_timeout: nothing received or sent on this stream for that long ends it (408, or a reset).
    this.idle = head.method === 'CONNECT' ? undefined : idle;
    this.idle?.add(this);
    hcm.stats.rqHttp2++;
    // A CONNECT stream's DATA belongs to the tunnel (spliced once it is up), not to a request body.
    if (!endStream && head.method !== 'CONNECT') {
      h2.on('data', this.onData);
      h2.on('end', this.onEnd);
    }
    stream.decodeHeaders(endStream);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.idleTicks = 0;
    this.stream.decodeData(chunk);
  };

  private readonly onEnd = (): void => {
    this.idleTicks = 0;
    this.stream.decodeComplete();
  };

  onIdle(): void {
    this.stream.idleTimeout();
  }

  private readonly onGone = (): void => {
    this.stream.downstreamReset();
  };

  private readonly onClose = (): void => {
    this.idle?.delete(this);
    this.sessionIdle?.streamClosed();
    this.stream.downstreamReset();
  };

  connectionFacts(): DownstreamConnection {
    const socket = this.h2.session?.socket;
    return {
      sourceIp: this.stream.head.remoteAddress,
      destinationIp: socket?.localAddress,
      destinationPort: socket?.localPort ?? 0,
      ...tlsConnectionFacts(socket),
    };
  }

  decodeRequestBody(): void {
    // DATA frames carry no framing of their own.
  }

  pauseReading(paused: boolean): void {
    if (paused) this.h2.pause();
    else this.h2.resume();
  }

  encodeHeaders(
    status: number,
    _reason: string,
    headers: string[],
    framing: WireFraming,
    contentLength: number,
    _upstreamCloses: boolean,
    endStream: boolean,
  ): void {
    this.idleTicks = 0;
    const cfg = this.stream.hcm.config;
    // A flat name/value list: node:http2 takes it as it is (no object to build and copy per response).
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
    // Whether trailers follow is known only at the end: an HTTP/2 or gRPC body holds the stream open
    // for them (an upstream without trailers ends with an empty trailer block).
    const waitForTrailers =
      !endStream && (framing === 'frames' || (framing === 'chunked' && this.stream.grpc));
    try {
      this.h2.respond(out, { endStream, waitForTrailers });
      if (waitForTrailers) this.h2.once('wantTrailers', this.sendTrailers);
    } catch {
      // client went away
    }
  }

  private readonly sendTrailers = (): void => {
    this.idleTicks = 0;
    const out: http2.OutgoingHttpHeaders = {};
    const t = this.trailers;
    if (t !== null) for (let i = 0; i < t.length; i += 2) out[t[i]] = t[i + 1];
    try {
      this.h2.sendTrailers(out);
    } catch {
      // stream already gone
    }
  };

  encodeData(chunk: Buffer): boolean {
    this.idleTicks = 0;
    if (!this.h2.destroyed) this.h2.write(chunk);
    return true;
  }

  get needsDrain(): boolean {
    return this.h2.writableNeedDrain;
  }

  onceDrained(resume: () => void): void {
    // Also on close: a client that went away never drains, and an upstream connection left paused
    // for it would go back to the pool paused (the next request on it would never be answered).
    const client = this.h2;
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

  flush(): void {
    // Writes go straight to the HTTP/2 stream; nothing is held.
  }

  encodeTrailers(trailers: string[]): void {
    this.trailers = trailers;
  }

  encodeEnd(): void {
    const h2 = this.h2;
    if (!h2.destroyed && !h2.writableEnded && h2.headersSent) h2.end();
  }

  encodeLocalReply(
    status: number,
    body: string,
    flag: ResponseFlag | undefined,
    extra: string[] | null,
    grpc: boolean,
  ): void {
    const headers: http2.OutgoingHttpHeaders = { ':status': status };
    if (flag) headers[RESPONSE_FLAGS_HEADER] = flag;
    if (extra !== null) for (let i = 0; i < extra.length; i += 2) headers[extra[i]] = extra[i + 1];
    headers.server = this.stream.hcm.config.serverName;
    const head = this.stream.head.method;
    try {
      if (grpc || headers['grpc-status'] !== undefined) {
        headers[':status'] = 200;
        headers['content-type'] = 'application/grpc';
        // A filter may name the gRPC status itself (fault abort with grpc_status).
        headers['grpc-status'] ??= String(grpcStatusFor(status));
        headers['grpc-message'] = encodeURIComponent(body);
        this.h2.respond(headers, { endStream: true });
      } else {
        if (body !== '') headers['content-type'] = 'text/plain';
        headers['content-length'] = Buffer.byteLength(body);
        this.h2.respond(headers, { endStream: body === '' || head === 'HEAD' });
        if (body !== '' && head !== 'HEAD') this.h2.end(body);
      }
    } catch {
      // client went away
    }
  }

  resetStream(): void {
    if (!this.h2.destroyed) this.h2.close(NGHTTP2_INTERNAL_ERROR);
  }

  streamDone(): void {
    // One HttpStream per HTTP/2 stream: nothing follows.
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
        if (!stream.active) return up.destroy();
        cluster.stats.status(200);
        this.h2.respond({ ':status': 200 });
        stream.hcm.stats.upgrades++;
        stream.tunnelEstablished(200);
        splice(this.h2, up);
      },
    });
  }
}
