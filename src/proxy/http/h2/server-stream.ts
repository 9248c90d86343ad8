// One downstream HTTP/2 stream (h2c or gRPC): filters, router, then an HTTP/2 or HTTP/1.1 upstream.
import http2 from 'node:http2';
import type { Cluster } from '../../cluster/cluster.ts';
import type { Host } from '../../cluster/host.ts';
import type { H1Connection, H1ResponseHandler, UpstreamFailure } from '../../cluster/pool/h1-connection.ts';
import type { H1Pool } from '../../cluster/pool/h1-pool.ts';
import { connectTunnelUpstream } from '../../cluster/tunnel-upstream.ts';
import { RESPONSE_FLAGS_HEADER, type ResponseFlag } from '../../common/response-flags.ts';
import { splice } from '../../common/splice.ts';
import { tlsConnectionFacts } from '../../tls/connection-facts.ts';
import type { HttpConnectionManager } from '../connection-manager.ts';
import type { FilterStream, HttpFilter, StreamInfo } from '../filters/filter.ts';
import { type HeadInfo, parseTrailerLines } from '../h1/parser.ts';
import { grpcStatusFor, isGrpc, LOCAL_BODY } from '../local-reply.ts';
import { RequestHead } from '../request-head.ts';
import { requestId } from '../request-id.ts';
import { applyResponseMutations } from '../router/header-mutations.ts';
import { MirrorExchange } from '../router/mirror.ts';
import { retriableAnswer, retriesConnectFailure, retriesReset } from '../router/retry.ts';
import { effectiveTimeout } from '../router/route-match.ts';
import type { RetryPolicy } from '../router/route-table.ts';
import {
  decide,
  firstCluster,
  matchRoute,
  perFilterConfig,
  RouteDecision,
  type RouteMatchResult,
} from '../router/router.ts';

const { NGHTTP2_FLAG_END_STREAM, NGHTTP2_CANCEL } = http2.constants;

/** Request bodies up to this size are kept so that a failed attempt can be retried (Envoy buffers too). */
const RETRY_BUFFER_LIMIT = 64 * 1024;

/** Headers that never cross an HTTP/2 hop (RFC 9113 8.2.2). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
]);

export class H2ServerStream implements H1ResponseHandler, FilterStream {
  private readonly hcm: HttpConnectionManager;
  private readonly stream: http2.ServerHttp2Stream;
  readonly head = new RequestHead();
  private readonly decision = new RouteDecision();
  private readonly endStream: boolean;
  private readonly grpc: boolean;
  private filters: HttpFilter[] | null = null;
  private filterIndex = 0;
  private extraResponseHeaders: string[] | null = null;
  private cluster: Cluster | null = null;
  private host: Host | null = null;
  private pool: H1Pool | null = null;
  private upstreamH1: H1Connection | null = null;
  private upstreamH2: http2.ClientHttp2Stream | null = null;
  private responded = false;
  private finished = false;
  private timer: NodeJS.Timeout | undefined;
  private retriesLeft = 0;
  /** HTTP/2 upstream: request headers, built once (retries reuse them). */
  private h2Headers: http2.OutgoingHttpHeaders | undefined;
  /** Request body kept for retries; null once it outgrew RETRY_BUFFER_LIMIT. */
  private h2Body: Buffer[] | null = [];
  private h2BodyBytes = 0;
  /** The client has sent its whole request. */
  private downEnded = false;
  private bodyWired = false;
  private trailersWired = false;
  /** Trailers of the attempt whose response the client gets. */
  private h2Trailers: http2.IncomingHttpHeaders | undefined;
  /** Chunk-encode the request body towards an HTTP/1.1 upstream. */
  private chunkedUp = false;

  constructor(
    hcm: HttpConnectionManager,
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    flags: number,
  ) {
    this.hcm = hcm;
    this.stream = stream;
    this.endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    this.downEnded = this.endStream;
    // A request without a body still has a readable side: consume it so that the stream ends
    // cleanly (otherwise every close counts as premature and costs an error object).
    if (this.endStream) stream.resume();
    const head = this.head;
    head.protocol = 'HTTP/2';
    head.method = String(headers[':method'] ?? 'GET');
    head.scheme = String(headers[':scheme'] ?? 'http');
    head.authority = String(headers[':authority'] ?? headers.host ?? '');
    const path = String(headers[':path'] ?? '');
    // A fragment is never part of a request (RFC 9110 4.2.5); Envoy strips it before any filter.
    const hash = path.indexOf('#');
    head.path = hash < 0 ? path : path.slice(0, hash);
    head.remoteAddress = stream.session?.socket?.remoteAddress ?? '';
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith(':') || HOP_BY_HOP.has(name)) continue;
      if (Array.isArray(value)) for (const v of value) head.headers.push(name, v);
      else if (value !== undefined) head.headers.push(name, String(value));
    }
    this.grpc = isGrpc(head.get('content-type'));
    stream.on('error', () => this.onDownstreamGone());
    stream.on('close', () => this.onDownstreamGone());
    hcm.stats.rqTotal++;
    hcm.stats.rqActive++;
    hcm.stats.rqHttp2++;
    this.start();
  }

  private start(): void {
    const cfg = this.hcm.config;
    if (cfg.generateRequestId && this.head.get('x-request-id') === undefined)
      this.head.headers.push('x-request-id', requestId());
    if (cfg.filters.length > 0) {
      this.filters = cfg.filters.map((f) => f.createFilter());
      if (!this.runFilters()) return;
    }
    this.route();
  }

  private runFilters(): boolean {
    const filters = this.filters!;
    while (this.filterIndex < filters.length) {
      const status = filters[this.filterIndex++].decodeHeaders(this);
      if (this.responded || this.finished) return false;
      if (status === 'StopIteration') return false;
    }
    return true;
  }

  continueDecoding(): void {
    if (this.responded || this.finished) return;
    if (this.runFilters()) this.route();
  }

  addResponseHeader(name: string, value: string): void {
    (this.extraResponseHeaders ??= []).push(name.toLowerCase(), value);
  }

  private matched: RouteMatchResult | null | undefined;
  private info_: StreamInfo | undefined;

  private matchedRoute(): RouteMatchResult | undefined {
    if (this.matched === undefined)
      this.matched = matchRoute(this.hcm.config, this.hcm.routes(), this.head) ?? null;
    return this.matched ?? undefined;
  }

  routeConfig(filterName: string): unknown {
    return perFilterConfig(this.matchedRoute(), filterName);
  }

  routeCluster(): string | undefined {
    return firstCluster(this.matchedRoute());
  }

  /** Connection facts and per-request dynamic metadata (Envoy's StreamInfo), built on first use. */
  get streamInfo(): StreamInfo {
    if (this.info_ === undefined) {
      const socket = this.stream.session?.socket;
      this.info_ = {
        connection: {
          sourceIp: this.head.remoteAddress,
          destinationIp: socket?.localAddress,
          destinationPort: socket?.localPort ?? 0,
          ...tlsConnectionFacts(socket),
        },
        dynamicMetadata: new Map(),
      };
    }
    return this.info_;
  }

  sendLocalReply(status: number, body: string, flag: ResponseFlag | undefined, headers?: string[]): void {
    if (headers)
      for (let i = 0; i < headers.length; i += 2) this.addResponseHeader(headers[i], headers[i + 1]);
    this.localReply(status, body, flag);
  }

  private route(): void {
    const hcm = this.hcm;
    const d = decide(hcm.config, hcm.routes(), hcm.clusters, this.head, this.decision);
    if (d.outcome === 'local') {
      if (d.flag === 'NR') hcm.stats.noRoute++;
      if (d.headers)
        for (let i = 0; i < d.headers.length; i += 2) this.addResponseHeader(d.headers[i], d.headers[i + 1]);
      this.localReply(d.status, d.body, d.flag);
      return;
    }
    const action = d.action!;
    this.cluster = d.cluster!;
    const retry = action.retry ?? d.vhost?.retry;
    this.retriesLeft = retry ? retry.numRetries : 0;
    const timeout = effectiveTimeout(action, this.head);
    if (timeout > 0) this.timer = setTimeout(this.onTimeout, timeout);
    if (this.head.method === 'CONNECT') {
      const u = action.upgrades.get('connect');
      if (!hcm.config.upgrades.has('connect') || !u?.enabled || !u.terminateConnect) {
        this.localReply(403, LOCAL_BODY.upgradeFailed, undefined);
        return;
      }
      this.connectTunnel();
      return;
    }
    // Mirroring from HTTP/2 clients covers bodyless requests (the copy is sent as HTTP/1.1).
    if (action.mirrors.length > 0 && this.endStream)
      for (const policy of action.mirrors) MirrorExchange.start(hcm.clusters, policy, this.head, '', true);
    this.pickAndSend();
  }

  private pickAndSend(avoid: Host | null = null): void {
    const cluster = this.cluster!;
    const host = cluster.admit(this.decision, avoid);
    if (host === 'UH' || host === 'UO') {
      this.localReply(503, host === 'UH' ? LOCAL_BODY.noHealthyUpstream : LOCAL_BODY.overflow, host);
      return;
    }
    this.host = host;
    if (cluster.config.protocol === 'http1') {
      this.pool = cluster.h1Pool(host);
      if (this.pool.acquire(this, this.head.method === 'HEAD', true) === 'overflow') {
        cluster.stats.rqOverflow++;
        this.pool = null;
        this.upstreamFailure('UO', LOCAL_BODY.overflow);
      }
    } else this.forwardH2(cluster, host);
  }

  // ---- HTTP/2 upstream ----

  private forwardH2(cluster: Cluster, host: Host): void {
    const headers = (this.h2Headers ??= this.buildH2Headers());
    const replay = this.h2Body ?? [];
    let up: http2.ClientHttp2Stream;
    try {
      up = cluster
        .h2Pool(host)
        .get()
        .request(headers, { endStream: this.downEnded && replay.length === 0 });
    } catch {
      this.h2AttemptFailed('UF', LOCAL_BODY.connectFailure);
      return;
    }
    this.upstreamH2 = up;
    // A retry re-sends what the client has sent so far (kept while small enough).
    for (const chunk of replay) up.write(chunk);
    if (this.downEnded && replay.length > 0) up.end();
    if (!this.endStream && !this.bodyWired) this.wireRequestBody();
    if (!this.trailersWired) {
      this.trailersWired = true;
      this.stream.on('wantTrailers', () => {
        const out: http2.OutgoingHttpHeaders = {};
        const t = this.h2Trailers;
        if (t) for (const [k, v] of Object.entries(t)) if (!k.startsWith(':')) out[k] = v;
        try {
          this.stream.sendTrailers(out);
        } catch {
          // stream already gone
        }
      });
    }
    up.on('response', (rh, flags) => {
      if (this.finished || this.upstreamH2 !== up) return;
      const status = Number(rh[':status']);
      cluster.stats.status(status);
      cluster.record(host, status);
      const end = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
      if (this.retriableResponse(status, end ? rh['grpc-status'] : undefined)) {
        this.upstreamH2 = null;
        up.close(NGHTTP2_CANCEL);
        this.retryH2();
        return;
      }
      this.clearTimer();
      const out = this.responseHeaders(status, rh);
      this.responded = true;
      try {
        // Whether trailers follow is only known at the end: hold the stream open for them
        // (an upstream without trailers ends with an empty trailer block).
        this.stream.respond(out, { endStream: end, waitForTrailers: !end });
      } catch {
        return;
      }
      if (end) return;
      up.pipe(this.stream);
    });
    up.on('trailers', (t) => {
      if (this.upstreamH2 === up) this.h2Trailers = t;
    });
    up.on('end', () => {
      if (this.upstreamH2 === up) this.complete();
    });
    up.on('close', () => {
      if (this.finished || this.upstreamH2 !== up) return;
      if (this.responded) {
        if (up.rstCode !== undefined && up.rstCode !== 0) this.reset('UR');
        return;
      }
      this.h2AttemptFailed(up.rstCode ? 'UR' : 'UC', LOCAL_BODY.connectionTermination);
    });
    up.on('error', () => {
      if (this.finished || this.upstreamH2 !== up) return;
      if (this.responded) this.reset('UR');
      else this.h2AttemptFailed('UF', LOCAL_BODY.connectFailure);
    });
  }

  private buildH2Headers(): http2.OutgoingHttpHeaders {
    const head = this.head;
    const headers: http2.OutgoingHttpHeaders = {
      ':method': head.method,
      ':scheme': head.scheme,
      ':authority': head.authority,
      ':path': head.path,
    };
    const h = head.headers;
    for (let i = 0; i < h.length; i += 2) {
      const prev = headers[h[i]];
      headers[h[i]] =
        prev === undefined ? h[i + 1] : Array.isArray(prev) ? [...prev, h[i + 1]] : [String(prev), h[i + 1]];
    }
    if (headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = head.scheme;
    return headers;
  }

  /** Request body: to the current upstream stream, and kept (up to a limit) for retries. */
  private wireRequestBody(): void {
    this.bodyWired = true;
    this.stream.on('data', (chunk: Buffer) => {
      if (this.h2Body !== null) {
        this.h2BodyBytes += chunk.length;
        if (this.h2BodyBytes > RETRY_BUFFER_LIMIT) this.h2Body = null;
        else this.h2Body.push(chunk);
      }
      const up = this.upstreamH2;
      if (up && !up.destroyed && !up.write(chunk)) {
        this.stream.pause();
        up.once('drain', () => this.stream.resume());
      }
    });
    this.stream.on('end', () => {
      this.downEnded = true;
      const up = this.upstreamH2;
      if (up && !up.destroyed && !up.writableEnded) up.end();
    });
  }

  private retryPolicy(): RetryPolicy | undefined {
    return this.decision.action?.retry ?? this.decision.vhost?.retry;
  }

  /** Whether an answer (status, or grpc-status of a trailers-only answer) should be retried. */
  private retriableResponse(status: number, grpcStatus: string | string[] | undefined): boolean {
    const retry = this.retryPolicy();
    if (!retry || this.retriesLeft <= 0 || this.h2Body === null) return false;
    return retriableAnswer(retry, status, grpcStatus);
  }

  /** An attempt failed before any response: retry on another host when the policy allows, else answer. */
  private h2AttemptFailed(flag: ResponseFlag, body: string): void {
    this.upstreamH2 = null;
    const retry = this.retryPolicy();
    const allowed =
      retry !== undefined &&
      (flag === 'UF' ? retriesConnectFailure(retry) : retriesReset(retry, flag === 'UR'));
    if (this.host) this.cluster!.record(this.host, flag === 'UF' ? 'connect_failure' : 'reset');
    if (allowed && this.retriesLeft > 0 && this.h2Body !== null) {
      this.retryH2();
      return;
    }
    if (flag === 'UF') this.cluster!.stats.cxConnectFail++;
    this.upstreamFailure(retry && retry.numRetries > 0 && this.retriesLeft === 0 ? 'URX' : flag, body);
  }

  private retryH2(): void {
    this.retriesLeft--;
    this.cluster!.stats.rqRetry++;
    const previous = this.host;
    this.releaseHost();
    this.pickAndSend(previous);
  }

  /** Response headers for the client: upstream's, minus hop-by-hop, plus route mutations and server. */
  private responseHeaders(
    status: number,
    rh: http2.IncomingHttpHeaders | string[],
  ): http2.OutgoingHttpHeaders {
    const flat: string[] = [];
    if (Array.isArray(rh)) flat.push(...rh);
    else
      for (const [k, v] of Object.entries(rh)) {
        if (k.startsWith(':') || HOP_BY_HOP.has(k)) continue;
        if (Array.isArray(v)) for (const x of v) flat.push(k, x);
        else if (v !== undefined) flat.push(k, String(v));
      }
    const d = this.decision;
    if (d.weighted) applyResponseMutations(d.weighted.response, flat);
    if (d.route) applyResponseMutations(d.route.response, flat);
    if (d.vhost) applyResponseMutations(d.vhost.response, flat);
    const table = this.hcm.routes();
    if (table) applyResponseMutations(table.response, flat);
    if (this.filters) for (const f of this.filters) f.encodeHeaders?.(this, status, flat);
    if (this.extraResponseHeaders) flat.push(...this.extraResponseHeaders);
    if (d.setCookie) flat.push('set-cookie', d.setCookie);
    const cfg = this.hcm.config;
    const out: http2.OutgoingHttpHeaders = { ':status': status };
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i];
      if (HOP_BY_HOP.has(name)) continue;
      const prev = out[name];
      out[name] =
        prev === undefined
          ? flat[i + 1]
          : Array.isArray(prev)
            ? [...prev, flat[i + 1]]
            : [String(prev), flat[i + 1]];
    }
    if (
      cfg.serverHeader === 'OVERWRITE' ||
      (cfg.serverHeader === 'APPEND_IF_ABSENT' && out.server === undefined)
    )
      out.server = cfg.serverName;
    return out;
  }

  // ---- HTTP/1.1 upstream (H1ResponseHandler) ----

  onUpstreamAssigned(conn: H1Connection): void {
    this.upstreamH1 = conn;
  }

  onUpstreamReady(conn: H1Connection): void {
    const head = this.head;
    let out = `${head.method} ${head.path} HTTP/1.1\r\nhost: ${head.authority}\r\n`;
    const h = head.headers;
    let contentLength = -1;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i];
      if (name === 'content-length') {
        contentLength = Number(h[i + 1]);
        continue;
      }
      if (name === 'te') continue;
      out += `${name}: ${h[i + 1]}\r\n`;
    }
    if (head.get('x-forwarded-proto') === undefined) out += `x-forwarded-proto: ${head.scheme}\r\n`;
    if (contentLength >= 0) out += `content-length: ${contentLength}\r\n`;
    else if (!this.endStream) {
      out += 'transfer-encoding: chunked\r\n';
      this.chunkedUp = true;
    }
    conn.socket.write(`${out}\r\n`, 'latin1');
    if (this.endStream) return;
    const socket = conn.socket;
    this.stream.on('data', (chunk: Buffer) => {
      if (this.upstreamH1 !== conn) return;
      const ok = this.chunkedUp
        ? socket.write(`${chunk.length.toString(16)}\r\n`) && socket.write(chunk) && socket.write('\r\n')
        : socket.write(chunk);
      if (!ok) {
        this.stream.pause();
        socket.once('drain', () => this.stream.resume());
      }
    });
    this.stream.on('end', () => {
      if (this.upstreamH1 === conn && this.chunkedUp) socket.write('0\r\n\r\n');
    });
  }

  onUpstreamFlush(): void {
    // Writes go straight to the HTTP/2 stream; nothing is held.
  }

  onUpstreamInformational(): void {
    // 1xx responses other than 101 are not forwarded (see h1/server-connection.ts).
  }

  onUpstreamHead(_conn: H1Connection, info: HeadInfo, headers: string[]): void {
    if (this.finished) return;
    this.cluster!.stats.status(info.status);
    if (this.host) this.cluster!.record(this.host, info.status);
    this.clearTimer();
    const out = this.responseHeaders(info.status, headers);
    const bodyless = _conn.reader.done;
    this.responded = true;
    try {
      this.stream.respond(out, {
        endStream: bodyless,
        waitForTrailers: !bodyless && info.framing === 'chunked' && this.grpc,
      });
    } catch {
      // client went away
    }
  }

  onUpstreamBody(conn: H1Connection, chunk: Buffer): boolean {
    if (this.finished || this.stream.destroyed) return false;
    if (!this.stream.write(chunk)) {
      conn.socket.pause();
      this.stream.once('drain', () => conn.socket.resume());
    }
    return true;
  }

  onUpstreamEnd(conn: H1Connection, trailers: string): void {
    this.upstreamH1 = null;
    this.pool?.release(conn, !this.chunkedUp || this.stream.readableEnded || this.endStream);
    this.pool = null;
    if (!this.stream.destroyed && !this.stream.writableEnded) {
      if (trailers !== '' && this.grpc) {
        const t = parseTrailerLines(trailers);
        this.stream.once('wantTrailers', () => {
          const out: http2.OutgoingHttpHeaders = {};
          for (let i = 0; i < t.length; i += 2) out[t[i]] = t[i + 1];
          this.stream.sendTrailers(out);
        });
      }
      this.stream.end();
    }
    this.complete();
  }

  onUpstreamUpgrade(conn: H1Connection): void {
    // HTTP/2 clients cannot upgrade over HTTP/1.1 semantics; refuse.
    this.upstreamH1 = null;
    conn.destroy();
    this.upstreamFailure('UPE', LOCAL_BODY.protocolError);
  }

  onUpstreamFailure(conn: H1Connection, failure: UpstreamFailure): void {
    if (this.upstreamH1 !== conn) return;
    this.upstreamH1 = null;
    this.pool = null;
    if (this.responded) {
      this.reset('UC');
      return;
    }
    if (failure === 'connect_failure' || failure === 'connect_timeout') {
      this.cluster!.stats.cxConnectFail++;
      const retry = this.decision.action?.retry;
      if (retry && this.retriesLeft > 0 && this.endStream) {
        this.retriesLeft--;
        this.releaseHost();
        this.cluster!.stats.rqRetry++;
        this.pickAndSend();
        return;
      }
      this.upstreamFailure('UF', LOCAL_BODY.connectFailure);
      return;
    }
    if (failure === 'reset_before_response' && conn.served > 0 && this.endStream) {
      this.releaseHost();
      this.pickAndSend();
      return;
    }
    this.upstreamFailure(failure === 'protocol_error' ? 'UPE' : 'UC', LOCAL_BODY.connectionTermination);
  }

  // ---- CONNECT ----

  private connectTunnel(): void {
    const cluster = this.cluster!;
    const host = cluster.pick(this.decision);
    if (!host) {
      this.localReply(503, LOCAL_BODY.noHealthyUpstream, 'UH');
      return;
    }
    connectTunnelUpstream(cluster, host, {
      failed: () => {
        if (!this.responded) this.localReply(503, LOCAL_BODY.connectFailure, 'UF');
      },
      ready: (up) => {
        if (this.finished) return up.destroy();
        this.clearTimer();
        this.responded = true;
        cluster.stats.status(200);
        this.stream.respond({ ':status': 200 });
        this.hcm.stats.upgrades++;
        splice(this.stream, up);
      },
    });
  }

  // ---- endings ----

  private upstreamFailure(flag: ResponseFlag, body: string): void {
    if (this.host && (flag === 'UF' || flag === 'UC' || flag === 'UR'))
      this.cluster!.record(this.host, flag === 'UF' ? 'connect_failure' : 'reset');
    this.releaseHost();
    this.localReply(503, body, flag);
  }

  private localReply(status: number, body: string, flag: ResponseFlag | undefined): void {
    if (this.finished) return;
    if (this.responded) {
      this.reset(flag ?? 'UC');
      return;
    }
    this.responded = true;
    this.clearTimer();
    const headers: http2.OutgoingHttpHeaders = { ':status': status };
    if (flag) headers[RESPONSE_FLAGS_HEADER] = flag;
    if (this.extraResponseHeaders) {
      const x = this.extraResponseHeaders;
      for (let i = 0; i < x.length; i += 2) headers[x[i]] = x[i + 1];
    }
    headers.server = this.hcm.config.serverName;
    this.hcm.stats.status(status);
    try {
      if (this.grpc || headers['grpc-status'] !== undefined) {
        headers[':status'] = 200;
        headers['content-type'] = 'application/grpc';
        // A filter may name the gRPC status itself (fault abort with grpc_status).
        headers['grpc-status'] ??= String(grpcStatusFor(status));
        headers['grpc-message'] = encodeURIComponent(body);
        this.stream.respond(headers, { endStream: true });
      } else {
        if (body !== '') headers['content-type'] = 'text/plain';
        headers['content-length'] = Buffer.byteLength(body);
        this.stream.respond(headers, { endStream: body === '' || this.head.method === 'HEAD' });
        if (body !== '' && this.head.method !== 'HEAD') this.stream.end(body);
      }
    } catch {
      // client went away
    }
    this.complete();
  }

  private readonly onTimeout = (): void => {
    this.timer = undefined;
    if (this.finished) return;
    this.cluster!.stats.rqTimeout++;
    this.dropUpstream();
    this.releaseHost();
    if (this.responded) this.reset('UT');
    else this.localReply(504, LOCAL_BODY.timeout, 'UT');
  };

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private dropUpstream(): void {
    if (this.upstreamH1) {
      this.pool?.release(this.upstreamH1, false);
      this.upstreamH1 = null;
    } else this.pool?.cancel(this);
    this.pool = null;
    if (this.upstreamH2) {
      if (!this.upstreamH2.closed) this.upstreamH2.close(NGHTTP2_CANCEL);
      this.upstreamH2 = null;
    }
  }

  private releaseHost(): void {
    if (this.host) {
      this.cluster!.release(this.host);
      this.host = null;
    }
  }

  private complete(): void {
    if (this.finished) return;
    this.finished = true;
    this.clearTimer();
    this.releaseHost();
    this.hcm.stats.rqActive--;
    if (this.filters) for (const f of this.filters) f.onDestroy?.();
  }

  private reset(_flag: ResponseFlag): void {
    this.dropUpstream();
    this.complete();
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  }

  private onDownstreamGone(): void {
    if (this.finished) return;
    this.hcm.stats.rxReset++;
    this.dropUpstream();
    this.complete();
  }
}
