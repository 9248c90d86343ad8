// The HTTP/2 downstream codec (h2c or gRPC): one node:http2 server stream ⇄ one HttpStream.
import http2 from 'node:http2';
import type { Cluster } from '../../cluster/cluster.ts';
import { connectTunnelUpstream } from '../../cluster/tunnel-upstream.ts';
import { RESPONSE_FLAGS_HEADER, type ResponseFlag } from '../../common/response-flags.ts';
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

export class H2ServerStream implements DownstreamCodec {
  private readonly h2: http2.ServerHttp2Stream;
  readonly stream: HttpStream;
  readonly decodesResponseBody = true;
  /** Trailers to send when the response body ends. */
  private trailers: string[] | null = null;

  constructor(
    hcm: StreamManager,
    h2: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    flags: number,
  ) {
    this.h2 = h2;
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
    h2.on('close', this.onGone);
    // stream_idle_timeout: no frame on this stream for that long ends it (408, or a reset).
    if (hcm.config.streamIdleTimeoutMs > 0 && head.method !== 'CONNECT')
      h2.setTimeout(hcm.config.streamIdleTimeoutMs, () => stream.idleTimeout());
    hcm.stats.rqHttp2++;
    // A CONNECT stream's DATA belongs to the tunnel (spliced once it is up), not to a request body.
    if (!endStream && head.method !== 'CONNECT') {
      h2.on('data', (chunk: Buffer) => stream.decodeData(chunk));
      h2.on('end', () => stream.decodeComplete());
    }
    stream.decodeHeaders(endStream);
  }

  private readonly onGone = (): void => {
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
    const cfg = this.stream.hcm.config;
    const out: http2.OutgoingHttpHeaders = { ':status': status };
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (HOP_BY_HOP.has(name)) continue;
      const prev = out[name];
      out[name] =
        prev === undefined
          ? headers[i + 1]
          : Array.isArray(prev)
            ? [...prev, headers[i + 1]]
            : [String(prev), headers[i + 1]];
    }
    if (contentLength >= 0) out['content-length'] = String(contentLength);
    if (
      cfg.serverHeader === 'OVERWRITE' ||
      (cfg.serverHeader === 'APPEND_IF_ABSENT' && out.server === undefined)
    )
      out.server = cfg.serverName;
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
