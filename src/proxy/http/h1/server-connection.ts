// One downstream HTTP/1.1 connection: parses requests, runs filters and the router, forwards upstream.
import type net from 'node:net';
import type { Cluster } from '../../cluster/cluster.ts';
import type { Host } from '../../cluster/host.ts';
import type { H1Connection, H1ResponseHandler, UpstreamFailure } from '../../cluster/pool/h1-connection.ts';
import type { H1Pool } from '../../cluster/pool/h1-pool.ts';
import { admitRetry, backOffMs, releaseRetry } from '../../cluster/retry-admission.ts';
import { connectTunnelUpstream } from '../../cluster/tunnel-upstream.ts';
import { headerLinesLength, putHeaderLines, putLatin1 } from '../../common/latin1.ts';
import type { ResponseFlag } from '../../common/response-flags.ts';
import { splice } from '../../common/splice.ts';
import { tlsConnectionFacts } from '../../tls/connection-facts.ts';
import type { HttpConnectionManager } from '../connection-manager.ts';
import type { DownstreamConnection, FilterStream, HttpFilter, StreamInfo } from '../filters/filter.ts';
import { h1LocalReply, isGrpc, LOCAL_BODY } from '../local-reply.ts';
import { RequestHead } from '../request-head.ts';
import { requestId } from '../request-id.ts';
import { applyResponseMutations } from '../router/header-mutations.ts';
import { MirrorExchange } from '../router/mirror.ts';
import { retriableAnswer, retriesConnectFailure, retriesReset, retriesTimeout } from '../router/retry.ts';
import { effectiveTimeout } from '../router/route-match.ts';
import {
  decide,
  firstCluster,
  matchRoute,
  perFilterConfig,
  RouteDecision,
  type RouteMatchResult,
} from '../router/router.ts';
import { sniffTunnel, tunnelMayCarryHttp } from './connect-http.ts';
import { BodyReader, HeadInfo, headerLines, parseRequestHead, STATUS_TEXT } from './parser.ts';
import { forwardH1ToH2, type H2UpstreamRequest } from './to-h2.ts';

const EMPTY = Buffer.alloc(0);
/** Request body bytes held while the upstream connects before the client is paused. */
const QUEUE_LIMIT = 1024 * 1024;
/** Request bodies up to this size are kept so that a retry can send them again (Envoy's buffer limit). */
const REPLAY_LIMIT = 64 * 1024;
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const NO_HEADERS: string[] = [];
/** The fixed bytes of a request line between the path and the authority. */
const REQUEST_LINE_MIDDLE = ' HTTP/1.1\r\nhost: ';
const XFP_HTTP = 'x-forwarded-proto: http\r\n';
const XFP_HTTPS = 'x-forwarded-proto: https\r\n';
const CHUNKED_LINE = 'transfer-encoding: chunked\r\n';
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

/** Where the connection is in its request/response cycle. */
type ConnState = 'idle' | 'active' | 'tunnel' | 'closed';

export class H1ServerConnection implements H1ResponseHandler, FilterStream {
  readonly socket: net.Socket;
  private readonly hcm: HttpConnectionManager;
  readonly head = new RequestHead();
  /** The client's address, read once per connection. */
  private readonly remoteAddress: string;
  private readonly info = new HeadInfo();
  private readonly reqReader = new BodyReader();
  private readonly decision = new RouteDecision();
  private state: ConnState = 'idle';
  /** Bytes received but not yet parsed (partial head, or a pipelined next request). */
  private pending: Buffer = EMPTY;
  private reqDone = false;
  private respStarted = false;
  private respDone = false;
  /** Close the downstream connection after the current response. */
  private closeAfter = false;
  private upstream: H1Connection | null = null;
  private pool: H1Pool | null = null;
  private host: Host | null = null;
  /** The host of the last attempt (retries avoid it). */
  private lastHost: Host | null = null;
  private cluster: Cluster | null = null;
  /** Request body held until the upstream connection is ready. */
  private queue: Buffer[] = [];
  private queued = 0;
  /**
   * The route timeout's timer, kept for the connection's life and re-armed with refresh() for
   * each request of the same timeout (no timer object per request); `timerArmed` says whether
   * the current request's timeout runs (a disarmed timer that fires does nothing).
   */
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private timerArmed = false;
  private retriesLeft = 0;
  private filters: HttpFilter[] | null = null;
  private filterIndex = 0;
  private extraResponseHeaders: string[] | null = null;
  private requestId = '';
  /** Response body framing passes chunked bytes through unchanged. */
  private grpc = false;
  /** The route filters asked about (undefined: not looked up yet for this request). */
  private matched: RouteMatchResult | null | undefined;
  /** Connection facts for filters, built on first use. */
  private connectionInfo: DownstreamConnection | undefined;
  private info_: StreamInfo | undefined;
  /** Copies of the current request on their way to mirror clusters. */
  private mirrors: MirrorExchange[] | null = null;
  /** retry_policy.per_try_timeout of the current attempt. */
  private tryTimer: NodeJS.Timeout | undefined;
  /** The current upstream answer is being dropped for a retry. */
  private discarding = false;
  /** The cluster whose retry slot (max_retries / retry budget) this request holds. */
  private retrySlot: Cluster | null = null;
  /** The back-off wait before the next retry attempt. */
  private backOffTimer: NodeJS.Timeout | undefined;
  /** The request body as sent upstream, kept for retries; null when there is none or it outgrew REPLAY_LIMIT. */
  private replay: Buffer[] | null = null;
  private replayed = 0;
  /**
   * A response head not yet written (see writeWithHead), in pieces: status line (null: none
   * pending), server line, the header list, and the framing/connection lines with the final CRLF.
   */
  private pendingStatus: string | null = null;
  private pendingServer = '';
  private pendingHeaders: string[] = NO_HEADERS;
  private pendingTail = '';
  /** Set when the request goes to an HTTP/2 upstream (see to-h2.ts). */
  h2Upstream: H2UpstreamRequest | null = null;

  constructor(socket: net.Socket, hcm: HttpConnectionManager, initial: Buffer) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.hcm = hcm;
    socket.setNoDelay(true);
    socket.on('data', this.onData);
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
    if (this.state === 'idle' && this.pending.length === 0) this.socket.end();
  }

  // ---- downstream input ----

  private readonly onData = (chunk: Buffer): void => {
    if (this.state === 'idle') {
      const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      this.pending = EMPTY;
      this.parseHead(buf);
      return;
    }
    if (this.state !== 'active') return;
    if (this.reqDone) {
      // Pipelined bytes of the next request: keep them until this response is done.
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      if (this.pending.length > QUEUE_LIMIT) this.socket.pause();
      return;
    }
    this.requestBody(chunk, 0);
  };

  private parseHead(buf: Buffer): void {
    this.head.reset();
    this.info.reset();
    const outcome = parseRequestHead(buf, this.head, this.info);
    if (outcome === 'incomplete') {
      this.pending = buf;
      return;
    }
    if (outcome === 'too_large') {
      this.protocolError(431, 'request headers too large');
      return;
    }
    if (outcome === 'invalid') {
      this.protocolError(this.info.error.includes('transfer-encoding') ? 501 : 400, this.info.error);
      return;
    }
    this.startRequest();
    if (this.state === 'active' && buf.length > this.info.headLength)
      this.requestBody(buf, this.info.headLength);
    else if (buf.length > this.info.headLength && this.state === 'idle') {
      // A local reply finished the request at once; parse what follows as the next request.
      this.pending = buf.subarray(this.info.headLength);
    }
  }

  /** Consumes request body bytes `buf[off..]`; bytes after the body are kept as the next request. */
  private requestBody(buf: Buffer, off: number): void {
    const n = this.reqReader.read(buf, off);
    if (n < 0) {
      this.badRequestBody();
      return;
    }
    if (n > 0) {
      if ((this.reqReader.decode || this.reqReader.reframe) && this.reqReader.framing === 'chunked') {
        const parts = this.reqReader.decoded;
        for (let i = 0; i < parts.length; i++) this.sendBody(parts[i]);
        parts.length = 0;
      } else this.sendBody(off === 0 && n === buf.length ? buf : buf.subarray(off, off + n));
    }
    if (this.reqReader.done) {
      this.requestComplete();
      if (off + n < buf.length) {
        this.pending = buf.subarray(off + n);
        if (this.state === 'idle') this.next();
      }
    }
  }

  private sendBody(chunk: Buffer): void {
    if (this.mirrors !== null) for (const m of this.mirrors) m.write(chunk);
    if (this.replay !== null) {
      this.replayed += chunk.length;
      if (this.replayed > REPLAY_LIMIT) this.replay = null;
      else this.replay.push(Buffer.from(chunk));
    }
    if (this.h2Upstream) {
      this.h2Upstream.write(chunk);
      return;
    }
    const up = this.upstream;
    if (up !== null && up.state === 'busy') {
      if (!up.socket.write(chunk)) {
        this.socket.pause();
        up.socket.once('drain', this.resumeDownstream);
      }
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued > QUEUE_LIMIT) this.socket.pause();
  }

  private readonly resumeDownstream = (): void => {
    if (this.state === 'active' || this.state === 'idle') this.socket.resume();
  };

  private requestComplete(): void {
    this.reqDone = true;
    if (this.mirrors !== null) for (const m of this.mirrors) m.end();
    if (this.h2Upstream) this.h2Upstream.end();
    this.startTimer();
  }

  /** Envoy's route timeout runs from the end of the request to the end of the response. */
  private startTimer(): void {
    const action = this.decision.action;
    if (!action || this.respDone || this.state !== 'active' || this.timerArmed) return;
    const timeout =
      action.grpcTimeoutMaxMs === undefined && action.maxStreamDurationMs === 0
        ? action.timeoutMs
        : effectiveTimeout(action, this.head);
    if (timeout <= 0) return;
    this.timerArmed = true;
    if (this.timer !== undefined && this.timerMs === timeout) this.timer.refresh();
    else {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = setTimeout(this.onTimeout, timeout);
      this.timerMs = timeout;
    }
  }

  // ---- request start: filters, router, upstream ----

  private startRequest(): void {
    this.state = 'active';
    this.reqDone = false;
    this.respStarted = false;
    this.respDone = false;
    this.grpc = false;
    this.extraResponseHeaders = null;
    this.filterIndex = 0;
    this.matched = undefined;
    this.info_ = undefined;
    const stats = this.hcm.stats;
    stats.rqTotal++;
    stats.rqActive++;
    stats.rqHttp1++;
    const head = this.head;
    head.remoteAddress = this.remoteAddress;
    if (this.info.close) this.closeAfter = true;
    // Chunked bodies are re-framed: the upstream never parses the client's chunk bytes.
    this.reqReader.start(this.info.framing, this.info.contentLength, false, true);
    if (this.info.expectContinue && this.info.minor === 1) this.socket.write(CONTINUE);
    if (this.reqReader.done) this.reqDone = true;
    this.grpc = isGrpc(head.get('content-type'));
    const cfg = this.hcm.config;
    if (cfg.generateRequestId) {
      const id = head.get('x-request-id');
      if (id === undefined) {
        this.requestId = requestId();
        head.headers.push('x-request-id', this.requestId);
      } else this.requestId = id;
    }
    if (this.info.upgrade !== '' && !cfg.upgrades.has(this.info.upgrade)) {
      this.localReply(403, LOCAL_BODY.upgradeFailed, undefined);
      return;
    }
    if (head.method === 'CONNECT' && !cfg.upgrades.has('connect')) {
      this.localReply(403, LOCAL_BODY.upgradeFailed, undefined);
      return;
    }
    if (cfg.filters.length > 0) {
      this.filters = cfg.filters.map((f) => f.createFilter());
      if (!this.runFilters()) return;
    } else this.filters = null;
    this.route();
    if (this.reqDone) this.startTimer();
  }

  /** Runs decode filters from `filterIndex`; false when one stopped or replied. */
  private runFilters(): boolean {
    const filters = this.filters!;
    while (this.filterIndex < filters.length) {
      const status = filters[this.filterIndex++].decodeHeaders(this);
      if (this.state !== 'active' || this.respStarted) return false;
      if (status === 'StopIteration') return false;
    }
    return true;
  }

  continueDecoding(): void {
    if (this.state !== 'active' || this.respStarted) return;
    if (this.runFilters()) {
      this.route();
      if (this.reqDone) this.startTimer();
    }
  }

  addResponseHeader(name: string, value: string): void {
    (this.extraResponseHeaders ??= []).push(name.toLowerCase(), value);
  }

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
      const socket = this.socket;
      this.connectionInfo ??= {
        sourceIp: this.remoteAddress,
        destinationIp: socket.localAddress,
        destinationPort: socket.localPort ?? 0,
        ...tlsConnectionFacts(socket),
      };
      this.info_ = { connection: this.connectionInfo, dynamicMetadata: new Map() };
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
    const upgrade = this.info.upgrade;
    if (upgrade !== '') {
      const u = action.upgrades.get(upgrade);
      if (u && !u.enabled) {
        this.localReply(403, LOCAL_BODY.upgradeFailed, undefined);
        return;
      }
    }
    const retry = action.retry ?? d.vhost?.retry;
    this.retriesLeft = retry ? retry.numRetries : 0;
    this.cluster = d.cluster!;
    // A body bound for an HTTP/1.1 upstream is kept (up to 64 KiB) while retries may need it.
    this.replay =
      this.retriesLeft > 0 &&
      this.info.framing !== 'none' &&
      this.info.contentLength <= REPLAY_LIMIT &&
      this.cluster.config.protocol !== 'http2'
        ? []
        : null;
    this.replayed = 0;
    if (this.head.method === 'CONNECT') {
      const u = action.upgrades.get('connect');
      if (!u?.enabled || !u.terminateConnect) {
        this.localReply(403, LOCAL_BODY.upgradeFailed, undefined);
        return;
      }
      this.connectTunnel();
      return;
    }
    if (action.mirrors.length > 0 && upgrade === '') this.startMirrors();
    this.pickAndSend();
  }

  private startMirrors(): void {
    // Bodies bound for an HTTP/2 upstream are de-chunked on the way; the copy needs them raw.
    if (this.info.framing === 'chunked' && this.cluster?.config.protocol === 'http2') return;
    const framing =
      this.info.framing === 'chunked'
        ? 'transfer-encoding: chunked\r\n'
        : this.info.contentLength >= 0
          ? `content-length: ${this.info.contentLength}\r\n`
          : '';
    const bodyless = this.info.framing === 'none';
    for (const policy of this.decision.action!.mirrors) {
      const m = MirrorExchange.start(this.hcm.clusters, policy, this.head, framing, bodyless);
      if (m) (this.mirrors ??= []).push(m);
    }
  }

  /** Picks a host (honouring circuit breakers) and sends the request to it. */
  private pickAndSend(avoid: Host | null = null): void {
    const cluster = this.cluster!;
    const host = cluster.admit(this.decision, avoid);
    if (host === 'UH' || host === 'UO') {
      this.localReply(503, host === 'UH' ? LOCAL_BODY.noHealthyUpstream : LOCAL_BODY.overflow, host);
      return;
    }
    this.host = host;
    this.lastHost = host;
    if (cluster.config.protocol === 'http2') {
      this.reqReader.decode = true;
      forwardH1ToH2(this, cluster, host);
      return;
    }
    const pool = cluster.h1Pool(host);
    this.pool = pool;
    // An HTTP/1.0 client cannot take a chunked body: de-chunk it and close-delimit instead.
    if (
      pool.acquire(this, this.head.method === 'HEAD', this.info.minor === 0, this.info.upgrade !== '') ===
      'overflow'
    ) {
      cluster.stats.rqOverflow++;
      this.pool = null;
      this.releaseHost();
      this.localReply(503, LOCAL_BODY.overflow, 'UO');
    }
  }

  onUpstreamAssigned(conn: H1Connection): void {
    this.upstream = conn;
  }

  // ---- upstream events (H1ResponseHandler) ----

  onUpstreamReady(conn: H1Connection): void {
    const retry = this.decision.action?.retry ?? this.decision.vhost?.retry;
    if (retry && retry.perTryTimeoutMs > 0) {
      if (this.tryTimer) clearTimeout(this.tryTimer);
      this.tryTimer = setTimeout(this.onTryTimeout, retry.perTryTimeoutMs);
    }
    const head = this.head;
    const cfg = this.hcm.config;
    // The head is written straight into one Buffer of its exact size (no intermediate strings).
    const xfp =
      head.get('x-forwarded-proto') !== undefined
        ? ''
        : head.scheme === 'http'
          ? XFP_HTTP
          : head.scheme === 'https'
            ? XFP_HTTPS
            : `x-forwarded-proto: ${head.scheme}\r\n`;
    let xff = '';
    if (cfg.useRemoteAddress && !cfg.skipXffAppend) {
      const prior = head.get('x-forwarded-for');
      xff = `x-forwarded-for: ${prior === undefined ? head.remoteAddress : `${prior}, ${head.remoteAddress}`}\r\n`;
    }
    const info = this.info;
    const framing =
      info.framing === 'chunked'
        ? CHUNKED_LINE
        : info.contentLength >= 0
          ? `content-length: ${info.contentLength}\r\n`
          : '';
    const upgrade = info.upgrade === '' ? '' : `connection: upgrade\r\nupgrade: ${info.upgrade}\r\n`;
    const out = Buffer.allocUnsafe(
      head.method.length +
        1 +
        head.path.length +
        REQUEST_LINE_MIDDLE.length +
        head.authority.length +
        2 +
        headerLinesLength(head.headers) +
        xfp.length +
        xff.length +
        framing.length +
        upgrade.length +
        2,
    );
    let off = putLatin1(out, 0, head.method);
    out[off++] = 32;
    off = putLatin1(out, off, head.path);
    off = putLatin1(out, off, REQUEST_LINE_MIDDLE);
    off = putLatin1(out, off, head.authority);
    out[off++] = 13;
    out[off++] = 10;
    off = putHeaderLines(out, off, head.headers);
    off = putLatin1(out, off, xfp);
    off = putLatin1(out, off, xff);
    off = putLatin1(out, off, framing);
    off = putLatin1(out, off, upgrade);
    out[off++] = 13;
    out[off] = 10;
    const socket = conn.socket;
    if (this.queue.length === 0) {
      socket.write(out);
    } else {
      socket.cork();
      socket.write(out);
      for (const chunk of this.queue) socket.write(chunk);
      socket.uncork();
      if (!this.reqDone) {
        // Keep the queue only while a retry could still need it (bodyless requests never queue).
        this.queue = [];
        this.queued = 0;
      }
      if (this.socket.isPaused() && this.state === 'active') this.socket.resume();
    }
  }

  onUpstreamInformational(_conn: H1Connection, _info: HeadInfo, _headers: string[]): void {
    // 1xx from upstream: Envoy already answered 100-continue itself, so these are dropped.
  }

  onUpstreamHead(conn: H1Connection, info: HeadInfo, headers: string[]): void {
    if (this.tryTimer) {
      clearTimeout(this.tryTimer);
      this.tryTimer = undefined;
    }
    const cluster = this.cluster!;
    cluster.stats.status(info.status);
    cluster.record(this.host!, info.status);
    // A retriable status on a request whose bytes are all still known: drop this answer, try again.
    const retry = this.decision.action?.retry ?? this.decision.vhost?.retry;
    this.freeRetrySlot();
    if (
      retry &&
      this.retriesLeft > 0 &&
      this.reqDone &&
      this.replayable() &&
      retriableAnswer(retry, info.status) &&
      this.takeRetrySlot() === 'admitted'
    ) {
      this.discarding = true;
      return;
    }
    if (this.queued !== 0 || this.queue.length !== 0) {
      this.queue = [];
      this.queued = 0;
    }
    this.respStarted = true;
    const d = this.decision;
    // Response header changes: weighted cluster, route, virtual host, route configuration.
    if (d.weighted && d.weighted.response.add.length + d.weighted.response.remove.length > 0)
      applyResponseMutations(d.weighted.response, headers);
    const route = d.route!;
    if (route.response.add.length + route.response.remove.length > 0)
      applyResponseMutations(route.response, headers);
    const vh = d.vhost!;
    if (vh.response.add.length + vh.response.remove.length > 0) applyResponseMutations(vh.response, headers);
    const table = this.hcm.routes();
    if (table && table.response.add.length + table.response.remove.length > 0)
      applyResponseMutations(table.response, headers);
    if (this.filters) for (const f of this.filters) f.encodeHeaders?.(this, info.status, headers);
    if (this.extraResponseHeaders) headers.push(...this.extraResponseHeaders);
    if (d.setCookie) headers.push('set-cookie', d.setCookie);
    this.writeResponseHead(
      info.status,
      info.reason,
      headers,
      conn.reader.framing,
      info.contentLength,
      conn.closeAfter,
    );
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
    let server = '';
    if (cfg.serverHeader === 'OVERWRITE') {
      removeFlat(headers, 'server');
      server = serverLine(cfg.serverName);
    } else if (cfg.serverHeader === 'APPEND_IF_ABSENT' && !hasFlat(headers, 'server'))
      server = serverLine(cfg.serverName);
    let tail = '';
    if (framing === 'chunked' && this.info.minor === 0) this.closeAfter = true;
    else if (framing === 'chunked') tail = CHUNKED_LINE;
    else if (contentLength >= 0) tail = `content-length: ${contentLength}\r\n`;
    else if (framing === 'length') this.closeAfter = true;
    else if (framing === 'eof' && !upstreamCloses) tail = 'content-length: 0\r\n';
    // A close-delimited upstream body must be close-delimited downstream too.
    if (framing === 'eof') this.closeAfter = true;
    if (this.hcm.draining) this.closeAfter = true;
    if (this.closeAfter) tail += 'connection: close\r\n\r\n';
    // An HTTP/1.0 client keeps the connection only when told so (ab -k, old clients).
    else if (this.info.minor === 0) tail += 'connection: keep-alive\r\n\r\n';
    else tail += '\r\n';
    // Held until the body bytes of the same read arrive, so head and body leave in one write.
    this.pendingStatus = statusLine(status, reason);
    this.pendingServer = server;
    this.pendingHeaders = headers;
    this.pendingTail = tail;
  }

  /**
   * Writes a held response head, joined with `chunk` in one Buffer when it is small (the head is
   * encoded straight into it). Returns write()'s result.
   */
  private writeWithHead(chunk: Buffer | null): boolean {
    const status = this.pendingStatus!;
    const server = this.pendingServer;
    const headers = this.pendingHeaders;
    const tail = this.pendingTail;
    this.pendingStatus = null;
    this.pendingHeaders = NO_HEADERS;
    const headLength = status.length + server.length + headerLinesLength(headers) + tail.length;
    const joined = chunk !== null && chunk.length <= 16384;
    const buf = Buffer.allocUnsafe(joined ? headLength + chunk.length : headLength);
    let off = putLatin1(buf, 0, status);
    off = putLatin1(buf, off, server);
    off = putHeaderLines(buf, off, headers);
    off = putLatin1(buf, off, tail);
    const socket = this.socket;
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

  onUpstreamFlush(_conn: H1Connection): void {
    if (this.pendingStatus !== null) this.writeWithHead(null);
  }

  onUpstreamBody(conn: H1Connection, chunk: Buffer): boolean {
    if (this.discarding) return false;
    // Small pieces are copied (the upstream's read buffer is reused); large ones are lent.
    const copied = chunk.length <= 16384;
    const ok =
      this.pendingStatus !== null
        ? this.writeWithHead(chunk)
        : this.socket.write(copied ? Buffer.from(chunk) : chunk);
    if (!ok) {
      conn.socket.pause();
      this.socket.once('drain', () => conn.socket.resume());
    }
    return !copied;
  }

  onUpstreamEnd(conn: H1Connection, _trailers: string): void {
    if (this.discarding) {
      this.discarding = false;
      this.finishUpstream(true);
      this.retry();
      return;
    }
    if (this.pendingStatus !== null) this.writeWithHead(null);
    this.respDone = true;
    const reuse = this.reqDone;
    this.finishUpstream(reuse);
    if (!this.reqDone) {
      // The upstream answered before the request body ended: the connection cannot be reused.
      this.closeAfter = true;
    }
    void conn;
    this.endExchange();
  }

  onUpstreamUpgrade(conn: H1Connection, info: HeadInfo, headers: string[], rest: Buffer): void {
    this.clearTimer();
    this.respStarted = true;
    this.respDone = true;
    this.cluster!.stats.status(101);
    this.hcm.stats.upgrades++;
    const out = `HTTP/1.1 101 ${info.reason || 'Switching Protocols'}\r\n${headerLines(headers)}connection: upgrade\r\nupgrade: ${this.info.upgrade}\r\n\r\n`;
    this.socket.write(out, 'latin1');
    const pending = this.pending;
    this.pending = EMPTY;
    this.finishUpstream(false, true);
    this.beginTunnel(conn.socket, pending, rest);
  }

  onUpstreamFailure(conn: H1Connection, failure: UpstreamFailure, _detail: string): void {
    if (this.upstream !== conn) return;
    this.upstream = null;
    this.freeRetrySlot();
    const cluster = this.cluster!;
    const host = this.host!;
    host.failures++;
    this.discarding = false;
    cluster.record(
      host,
      failure === 'connect_failure' || failure === 'connect_timeout' ? 'connect_failure' : 'reset',
    );
    this.releaseHost();
    if (this.respStarted) {
      // Mid-response: nothing to answer with; the client sees the connection end.
      cluster.stats.rqRxReset++;
      this.abort('UC');
      return;
    }
    const bodyless = this.info.framing === 'none';
    const retry = this.decision.action?.retry ?? this.decision.vhost?.retry;
    let flag: ResponseFlag;
    let body: string;
    if (failure === 'connect_failure' || failure === 'connect_timeout') {
      cluster.stats.cxConnectFail++;
      flag = 'UF';
      body = LOCAL_BODY.connectFailure;
      if (
        retry &&
        this.retriesLeft > 0 &&
        retriesConnectFailure(retry) &&
        this.takeRetrySlot() === 'admitted'
      ) {
        this.retry();
        return;
      }
    } else if (failure === 'reset_before_response') {
      flag = 'UC';
      body = LOCAL_BODY.connectionTermination;
      // A kept-alive connection the server closed just as it was reused: try once more on a fresh one.
      if (bodyless && conn.served > 0) {
        this.retry(false);
        return;
      }
      if (
        (bodyless || (this.reqDone && this.replayable())) &&
        retry &&
        this.retriesLeft > 0 &&
        retriesReset(retry) &&
        this.takeRetrySlot() === 'admitted'
      ) {
        this.retry();
        return;
      }
    } else {
      flag = failure === 'protocol_error' ? 'UPE' : 'UC';
      body = failure === 'protocol_error' ? LOCAL_BODY.protocolError : LOCAL_BODY.connectionTermination;
    }
    if (retry && this.retriesLeft === 0 && retry.numRetries > 0) flag = 'URX';
    this.localReply(503, body, flag);
  }

  /**
   * retry_policy.per_try_timeout passed without a response head: the attempt is abandoned and,
   * when the policy retries 5xx/gateway errors/resets and the request can be replayed, retried.
   */
  private readonly onTryTimeout = (): void => {
    this.tryTimer = undefined;
    if (this.state !== 'active' || this.respStarted || !this.upstream) return;
    this.freeRetrySlot();
    const cluster = this.cluster!;
    cluster.stats.rqTimeout++;
    if (this.host) cluster.record(this.host, 'timeout');
    const up = this.upstream;
    this.upstream = null;
    this.pool?.release(up, false);
    this.pool = null;
    this.discarding = false;
    this.releaseHost();
    const retry = this.decision.action?.retry ?? this.decision.vhost?.retry;
    if (
      retry &&
      retriesTimeout(retry) &&
      this.retriesLeft > 0 &&
      this.reqDone &&
      this.replayable() &&
      this.takeRetrySlot() === 'admitted'
    ) {
      this.retry();
      return;
    }
    this.localReply(504, LOCAL_BODY.timeout, 'UT');
  };

  /**
   * Tries again on another host. A counted retry (it holds a retry slot) waits a jittered
   * exponential back-off first; a stale kept-alive connection is retried at once.
   */
  private retry(counts = true): void {
    this.cluster!.stats.rqRetry++;
    if (!counts) {
      this.pickAndSend(this.lastHost);
      return;
    }
    this.retriesLeft--;
    // The next attempt sends the whole body again, from the copy.
    if (this.replay !== null && this.replay.length > 0) {
      this.queue = [...this.replay];
      this.queued = this.replayed;
    }
    const policy = this.decision.action?.retry ?? this.decision.vhost?.retry;
    const delay = policy ? backOffMs(policy.backOff, policy.numRetries - this.retriesLeft) : 0;
    this.backOffTimer = setTimeout(() => {
      this.backOffTimer = undefined;
      if (this.state === 'active') this.pickAndSend(this.lastHost);
    }, delay);
  }

  /** Whether the request can be sent again: no body, or all of it kept (up to 64 KiB). */
  private replayable(): boolean {
    return this.info.framing === 'none' || this.replay !== null;
  }

  /** Asks the cluster for a retry slot (max_retries or the retry budget); held until the retried attempt ends. */
  private takeRetrySlot(): 'admitted' | 'overflow' {
    const cluster = this.cluster!;
    const admission = admitRetry(cluster);
    if (admission === 'admitted') this.retrySlot = cluster;
    return admission;
  }

  private freeRetrySlot(): void {
    if (this.retrySlot) releaseRetry(this.retrySlot);
    this.retrySlot = null;
  }

  // ---- CONNECT tunnels and upgrades ----

  private connectTunnel(): void {
    if (tunnelMayCarryHttp(this.hcm.routes(), this.head.authority)) this.sniffConnect();
    else this.openTunnel(undefined);
  }

  /**
   * CONNECT to a service's HTTP port: answered at once, then the tunnel's first bytes decide.
   * HTTP/1.x inside is served by this connection manager as if sent directly (routes, faults,
   * retries: Envoy terminating CONNECT and re-running the HCM); anything else (TLS) is tunnelled.
   */
  private sniffConnect(): void {
    this.respStarted = true;
    this.socket.write('HTTP/1.1 200 OK\r\n\r\n');
    const initial = this.queue.length > 0 ? Buffer.concat([...this.queue, this.pending]) : this.pending;
    this.queue = [];
    this.pending = EMPTY;
    this.clearTimer();
    this.state = 'tunnel';
    this.hcm.stats.rqActive--;
    this.socket.removeListener('data', this.onData);
    this.socket.removeListener('end', this.onEnd);
    sniffTunnel(this.socket, initial, (content, bytes) => {
      if (this.socket.destroyed) return;
      if (content === 'opaque') {
        this.openTunnel(bytes);
        return;
      }
      // The tunnel becomes a new HTTP/1.1 connection of this manager; this one steps aside.
      this.socket.removeListener('error', this.onError);
      this.socket.removeListener('close', this.onClose);
      this.dropTimer();
      this.hcm.connectionClosed(this);
      this.hcm.stats.cxActive--;
      this.hcm.stats.cxTotal--;
      this.state = 'closed';
      this.hcm.handle(this.socket, bytes);
    });
  }

  /** Tunnels CONNECT to an upstream host; `sniffed`: already answered 200, these bytes go first. */
  private openTunnel(sniffed: Buffer | undefined): void {
    const cluster = this.cluster!;
    const host = cluster.pick(this.decision);
    if (!host) {
      if (sniffed) this.socket.destroy();
      else this.localReply(503, LOCAL_BODY.noHealthyUpstream, 'UH');
      return;
    }
    connectTunnelUpstream(cluster, host, {
      failed: () => {
        if (sniffed) this.socket.destroy();
        else if (this.state === 'active') this.localReply(503, LOCAL_BODY.connectFailure, 'UF');
      },
      ready: (up) => {
        if (sniffed) {
          if (this.socket.destroyed) return up.destroy();
          cluster.stats.status(200);
          this.socket.removeListener('error', this.onError);
          splice(this.socket, up, sniffed, EMPTY);
          return;
        }
        if (this.state !== 'active') return up.destroy();
        cluster.stats.status(200);
        this.respStarted = true;
        this.socket.write('HTTP/1.1 200 OK\r\n\r\n');
        const pending = this.pending;
        this.pending = EMPTY;
        this.beginTunnel(up, pending, EMPTY);
      },
    });
  }

  private beginTunnel(up: net.Socket, downHead: Buffer, upHead: Buffer): void {
    // Route timeouts end with the upgrade (Envoy); the tunnel lives as long as its two ends.
    this.clearTimer();
    this.state = 'tunnel';
    this.hcm.stats.rqActive--;
    this.socket.removeListener('data', this.onData);
    this.socket.removeListener('end', this.onEnd);
    this.socket.removeListener('error', this.onError);
    const queued = this.queue;
    this.queue = [];
    const head = queued.length > 0 ? Buffer.concat([...queued, downHead]) : downHead;
    splice(this.socket, up, head, upHead);
  }

  // ---- replies, completion, errors ----

  private localReply(status: number, body: string, flag: ResponseFlag | undefined): void {
    if (this.respStarted) {
      this.abort(flag ?? 'UC');
      return;
    }
    this.clearTimer();
    this.respStarted = true;
    this.respDone = true;
    if (!this.reqDone) this.closeAfter = true;
    if (this.hcm.draining) this.closeAfter = true;
    const text = h1LocalReply(
      status,
      this.head.method === 'HEAD' ? '' : body,
      flag,
      this.closeAfter,
      this.extraResponseHeaders ?? undefined,
      this.grpc,
      this.hcm.config.serverName,
    );
    this.socket.write(text, 'latin1');
    this.finishUpstream(false);
    this.hcm.stats.status(status);
    this.endExchange();
  }

  private readonly onTimeout = (): void => {
    if (!this.timerArmed) return;
    this.timerArmed = false;
    if (this.state !== 'active' || this.respDone) return;
    if (this.cluster) {
      this.cluster.stats.rqTimeout++;
      if (this.host) this.cluster.record(this.host, 'timeout');
    }
    if (this.upstream) {
      const up = this.upstream;
      this.upstream = null;
      this.pool?.release(up, false);
    } else this.pool?.cancel(this);
    this.pool = null;
    if (this.h2Upstream) {
      this.h2Upstream.abort();
      this.h2Upstream = null;
    }
    this.releaseHost();
    if (this.respStarted) this.abort('UT');
    else this.localReply(504, LOCAL_BODY.timeout, 'UT');
  };

  /** Releases the route timer when the connection is done with it. */
  private dropTimer(): void {
    this.timerArmed = false;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private clearTimer(): void {
    // The timer itself stays for the next request (see dropTimer).
    this.timerArmed = false;
    if (this.backOffTimer) {
      clearTimeout(this.backOffTimer);
      this.backOffTimer = undefined;
    }
    this.freeRetrySlot();
    if (this.tryTimer) {
      clearTimeout(this.tryTimer);
      this.tryTimer = undefined;
    }
  }

  /** Gives the upstream connection back (or destroys it) and updates host/cluster counters. */
  private finishUpstream(reuse: boolean, keepSocket = false): void {
    const up = this.upstream;
    if (up) {
      this.upstream = null;
      if (keepSocket) up.detach();
      else this.pool!.release(up, reuse);
    } else this.pool?.cancel(this);
    this.pool = null;
    this.releaseHost();
  }

  private releaseHost(): void {
    if (this.host) {
      this.cluster!.release(this.host);
      this.host = null;
    }
  }

  /** The response has been written completely: count it and go on to the next request. */
  endExchange(): void {
    this.clearTimer();
    this.replay = null;
    this.hcm.stats.rqActive--;
    if (this.filters) for (const f of this.filters) f.onDestroy?.();
    this.filters = null;
    this.mirrors = null;
    if (this.queued !== 0 || this.queue.length !== 0) {
      this.queue = [];
      this.queued = 0;
    }
    this.h2Upstream = null;
    if (!this.reqDone || this.closeAfter || this.hcm.draining) {
      this.state = 'closed';
      this.socket.end();
      return;
    }
    this.state = 'idle';
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

  /** Writes a response head + body for the HTTP/2-upstream path (to-h2.ts). */
  writeHead(status: number, headers: string[], chunked: boolean, contentLength: number): void {
    this.respStarted = true;
    this.clearTimer();
    this.cluster?.stats.status(status);
    this.writeResponseHead(status, '', headers, chunked ? 'chunked' : 'length', contentLength, false);
    this.writeWithHead(null);
  }

  /** Writes response body bytes for the HTTP/2-upstream path; false when the client is slow. */
  writeBody(chunk: Buffer | string): boolean {
    return this.socket.write(chunk);
  }

  /** The HTTP/2 upstream answered completely. */
  upstreamDone(): void {
    this.respDone = true;
    this.releaseHost();
    this.endExchange();
  }

  /** The HTTP/2 upstream failed. */
  upstreamFailed(flag: ResponseFlag, body: string): void {
    this.h2Upstream = null;
    this.releaseHost();
    if (this.respStarted) this.abort(flag);
    else this.localReply(503, body, flag);
  }

  get requestContentLength(): number {
    return this.info.contentLength;
  }

  /** The client speaks HTTP/1.0 (no chunked responses). */
  get http10(): boolean {
    return this.info.minor === 0;
  }

  get requestDone(): boolean {
    return this.reqDone;
  }

  /** Pauses or resumes reading the client (backpressure from an HTTP/2 upstream). */
  pauseDownstream(paused: boolean): void {
    if (paused) this.socket.pause();
    else if (this.state === 'active') this.socket.resume();
  }

  private protocolError(status: number, detail: string): void {
    this.hcm.stats.protocolError++;
    this.state = 'active';
    this.hcm.stats.rqActive++;
    this.closeAfter = true;
    this.reqDone = true;
    this.localReply(status, detail, 'DPE');
  }

  /** A malformed request body: 400 when no response has started (else a reset); no upstream reuse. */
  private badRequestBody(): void {
    this.hcm.stats.protocolError++;
    if (this.mirrors !== null) for (const m of this.mirrors) m.abort();
    this.mirrors = null;
    if (this.h2Upstream) {
      this.h2Upstream.abort();
      this.h2Upstream = null;
    }
    this.reqDone = true;
    this.closeAfter = true;
    this.localReply(400, this.reqReader.error, 'DPE');
  }

  /** Ends the exchange abruptly (mid-response failure or bad request body). */
  private abort(_flag: ResponseFlag): void {
    this.clearTimer();
    if (this.mirrors !== null) for (const m of this.mirrors) m.abort();
    this.mirrors = null;
    if (this.upstream) {
      this.pool?.release(this.upstream, false);
      this.upstream = null;
    } else this.pool?.cancel(this);
    if (this.h2Upstream) {
      this.h2Upstream.abort();
      this.h2Upstream = null;
    }
    this.releaseHost();
    if (this.state === 'active') this.hcm.stats.rqActive--;
    this.state = 'closed';
    this.socket.destroy();
  }

  private readonly onEnd = (): void => {
    // The client half-closed. Mid-body that is an abort; otherwise finish the response, then close.
    if (this.state === 'active' && !this.reqDone) {
      this.hcm.stats.rxReset++;
      this.abort('DC');
      return;
    }
    this.closeAfter = true;
    if (this.state === 'idle') this.socket.end();
  };

  private readonly onError = (): void => {
    // 'close' follows and cleans up.
  };

  private readonly onClose = (): void => {
    this.dropTimer();
    this.hcm.stats.cxActive--;
    this.hcm.connectionClosed(this);
    if (this.state === 'active') {
      this.hcm.stats.rxReset++;
      this.abort('DC');
    }
    this.state = 'closed';
  };
}

function hasFlat(h: string[], name: string): boolean {
  for (let i = 0; i < h.length; i += 2) if (h[i] === name) return true;
  return false;
}

function removeFlat(h: string[], name: string): void {
  let w = 0;
  for (let r = 0; r < h.length; r += 2) {
    if (h[r] === name) continue;
    h[w] = h[r];
    h[w + 1] = h[r + 1];
    w += 2;
  }
  h.length = w;
}
