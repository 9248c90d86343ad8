// The router, the terminal HTTP filter: route, upstream attempts, retries, timeouts, mirrors, local replies.
import type { Cluster } from '../../cluster/cluster.ts';
import type { Host } from '../../cluster/host.ts';
import type { ResponseFlag } from '../../common/response-flags.ts';
import type { FilterStatus } from '../filters/filter.ts';
import { LOCAL_BODY } from '../local-reply.ts';
import type { WireFraming } from '../stream/codec.ts';
import type { ActiveStream } from '../stream/stream-api.ts';
import { type MirrorExchange, startMirrors } from './mirror.ts';
import { retriableAnswer, retriesConnectFailure, retriesReset, retriesTimeout } from './retry.ts';
import { RetryState } from './retry-state.ts';
import { effectiveTimeout } from './route-match.ts';
import { applyRouteResponseMutations, decide, RouteDecision } from './router.ts';
import type { AnswerVerdict, AttemptFailure, AttemptOwner, UpstreamRequest } from './upstream.ts';
import { H1Upstream } from './upstream-h1.ts';
import { H2Upstream } from './upstream-h2.ts';

/** Request body bytes held while the upstream connects before the client is paused. */
const QUEUE_LIMIT = 1024 * 1024;
/** Request bodies up to this size are kept so that a retry can send them again (Envoy's buffer limit). */
const REPLAY_LIMIT = 64 * 1024;

export class RouterFilter implements AttemptOwner {
  private readonly stream: ActiveStream;
  readonly decision = new RouteDecision();
  cluster: Cluster | null = null;
  private host: Host | null = null;
  /** The host of the last attempt (retries avoid it). */
  private lastHost: Host | null = null;

  /** performance.now() when the last attempt started (envoy_cluster_upstream_rq_time). */
  attemptStart = 0;

  /** The host the last attempt went to (telemetry reads it when the stream completes); null before one. */
  get upstreamHost(): Host | null {
    return this.lastHost;
  }
  private upstream: UpstreamRequest | null = null;
  /** The HTTP/1.1 attempt object, reused for every attempt of every request of the stream. */
  private h1: H1Upstream | null = null;
  private readonly retry = new RetryState();
  private routed = false;
  /** Body bytes not yet written to the current attempt. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The whole body so far, kept for retries; null when none may come or it outgrew REPLAY_LIMIT. */
  private replay: Buffer[] | null = null;
  private replayBytes = 0;
  /** Some body bytes went to an attempt (a retry then needs `replay`). */
  private bodySent = false;
  private mirrors: MirrorExchange[] | null = null;
  /**
   * The route timeout's timer, kept for the stream's life and re-armed with refresh() for each
   * request of the same timeout; `timerArmed` says whether the current request's timeout runs.
   */
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private timerArmed = false;
  /** retry_policy.per_try_timeout of the current attempt. */
  private tryTimer: NodeJS.Timeout | undefined;
  private backOffTimer: NodeJS.Timeout | undefined;

  constructor(stream: ActiveStream) {
    this.stream = stream;
  }

  // ---- decode direction ----

  /** Routes the request and starts the first attempt (or answers locally). */
  decodeHeaders(stream: ActiveStream): FilterStatus {
    const hcm = stream.hcm;
    const d = decide(stream.routeMatch(), hcm.clusters, stream.head, this.decision);
    if (d.outcome === 'local') {
      if (d.flag === 'NR') hcm.stats.noRoute++;
      if (d.headers)
        for (let i = 0; i < d.headers.length; i += 2)
          stream.addResponseHeader(d.headers[i], d.headers[i + 1]);
      stream.localReply(d.status, d.body, d.flag);
      return 'StopIteration';
    }
    const action = d.action!;
    const connect = stream.head.method === 'CONNECT';
    const upgrade = connect ? 'connect' : stream.upgrade;
    if (upgrade !== '') {
      const u = action.upgrades.get(upgrade);
      if (u ? !u.enabled || (connect && !u.terminateConnect) : connect) {
        stream.localReply(403, LOCAL_BODY.upgradeFailed, undefined);
        return 'StopIteration';
      }
    }
    const cluster = d.cluster!;
    this.cluster = cluster;
    this.retry.start(action.retry ?? d.vhost?.retry);
    this.routed = true;
    // A body is kept (up to 64 KiB) while retries may need it; what arrived before routing first.
    this.replay =
      this.retry.left > 0 && stream.framing !== 'none' && stream.contentLength <= REPLAY_LIMIT
        ? this.pending.slice()
        : null;
    this.replayBytes = this.pendingBytes;
    if (connect) {
      stream.codec.tunnel(cluster, d);
      return 'StopIteration';
    }
    if (action.mirrors.length > 0 && upgrade === '') this.startMirrors();
    this.pickAndSend(null);
    if (stream.requestDone) this.startTimer();
    return 'StopIteration';
  }

  decodeData(chunk: Buffer): void {
    const mirrors = this.mirrors;
    if (mirrors !== null) for (let i = 0; i < mirrors.length; i++) mirrors[i].write(chunk);
    if (this.replay !== null) {
      this.replayBytes += chunk.length;
      if (this.replayBytes > REPLAY_LIMIT) this.replay = null;
      else this.replay.push(chunk);
    }
    const up = this.upstream;
    if (up?.ready) {
      this.bodySent = true;
      if (!up.sendData(chunk)) {
        this.stream.codec.pauseReading(true);
        up.onceDrained(this.resumeDownstream);
      }
      return;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes > QUEUE_LIMIT) this.stream.codec.pauseReading(true);
  }

  private readonly resumeDownstream = (): void => {
    if (this.stream.active) this.stream.codec.pauseReading(false);
  };

  decodeComplete(): void {
    const mirrors = this.mirrors;
    if (mirrors !== null) for (let i = 0; i < mirrors.length; i++) mirrors[i].end();
    if (!this.routed) return;
    const up = this.upstream;
    if (up?.ready) up.endData();
    this.startTimer();
  }

  /** Envoy's route timeout runs from the end of the request to the end of the response. */
  private startTimer(): void {
    const action = this.decision.action;
    if (!action || !this.stream.active || this.timerArmed) return;
    const timeout =
      action.grpcTimeoutMaxMs === undefined && action.maxStreamDurationMs === 0
        ? action.timeoutMs
        : effectiveTimeout(action, this.stream.head);
    if (timeout <= 0) return;
    this.timerArmed = true;
    if (this.timer !== undefined && this.timerMs === timeout) this.timer.refresh();
    else {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = setTimeout(this.onTimeout, timeout);
      this.timerMs = timeout;
    }
  }

  private startMirrors(): void {
    const stream = this.stream;
    const cluster = this.cluster!;
    this.mirrors = startMirrors(stream.hcm.clusters, this.decision.action!.mirrors, stream, cluster);
  }

  // ---- attempts ----

  /** Picks a host (honouring circuit breakers, avoiding `avoid`) and starts an attempt on it. */
  private pickAndSend(avoid: Host | null): void {
    const cluster = this.cluster!;
    const host = cluster.admit(this.decision, avoid);
    if (host === 'UH' || host === 'UO') {
      this.stream.localReply(503, host === 'UH' ? LOCAL_BODY.noHealthyUpstream : LOCAL_BODY.overflow, host);
      return;
    }
    this.host = host;
    this.lastHost = host;
    this.attemptStart = performance.now();
    const protocol = cluster.config.protocol;
    if (protocol === 'http2' || (protocol === 'downstream' && this.followsHttp2())) {
      this.stream.codec.decodeRequestBody();
      const up = new H2Upstream(this, this.stream);
      this.upstream = up;
      up.start(cluster, host);
      return;
    }
    const up = (this.h1 ??= new H1Upstream(this, this.stream));
    this.upstream = up;
    if (!up.start(cluster, host)) {
      cluster.stats.rqOverflow++;
      this.upstream = null;
      this.releaseHost();
      this.stream.localReply(503, LOCAL_BODY.overflow, 'UO');
    }
  }

  /**
   * use_downstream_protocol_config (protocol detection): HTTP/2 upstream for gRPC over HTTP/2.
   * Other HTTP/2 requests go as HTTP/1.1: a browser's or curl's h2 (TLS ALPN) says nothing about
   * what the app speaks, and an HTTP/1.1-only app is the common case; name the port http2 for h2c apps.
   */
  private followsHttp2(): boolean {
    if (this.stream.head.protocol !== 'HTTP/2') return false;
    return (this.stream.head.get('content-type') ?? '').startsWith('application/grpc');
  }

  /**
   * The attempt's request head went out: returns the body to send after it (the whole body so far
   * for a retry). The caller writes it, then calls bodyWritten().
   */
  attemptReady(): readonly Buffer[] {
    const policy = this.retry.policy;
    if (policy !== undefined && policy.perTryTimeoutMs > 0) {
      if (this.tryTimer) clearTimeout(this.tryTimer);
      this.tryTimer = setTimeout(this.onTryTimeout, policy.perTryTimeoutMs);
    }
    return this.replay ?? this.pending;
  }

  /** The body returned by attemptReady() was written; ends the request when it is complete. */
  bodyWritten(up: UpstreamRequest): void {
    if (this.pending.length > 0 || (this.replay !== null && this.replay.length > 0)) this.bodySent = true;
    if (this.pending.length > 0) {
      this.pending = [];
      this.pendingBytes = 0;
      this.stream.codec.pauseReading(false);
    }
    if (this.stream.requestDone) up.endData();
  }

  /** The upstream's response head. Response header changes and filters apply when forwarded. */
  onUpstreamHeaders(
    status: number,
    reason: string,
    headers: string[],
    framing: WireFraming,
    contentLength: number,
    upstreamCloses: boolean,
    endStream: boolean,
    grpcStatus: string | string[] | undefined,
  ): AnswerVerdict {
    this.clearTryTimer();
    const cluster = this.cluster!;
    cluster.stats.status(status);
    cluster.record(this.host!, status);
    const retry = this.retry;
    retry.free();
    // A retriable answer to a request whose bytes are all still known: drop it, try again.
    if (
      retry.policy !== undefined &&
      this.replayable() &&
      retry.admit(cluster, retriableAnswer(retry.policy, status, grpcStatus))
    )
      return 'Retry';
    const d = this.decision;
    applyRouteResponseMutations(d, headers);
    if (d.setCookie) headers.push('set-cookie', d.setCookie);
    this.stream.encodeHeaders(status, reason, headers, framing, contentLength, upstreamCloses, endStream);
    return 'Forward';
  }

  /** The response ended; the attempt has given its connection back. */
  onUpstreamComplete(): void {
    this.upstream = null;
    this.releaseHost();
    this.stream.encodeComplete();
  }

  /** The attempt that answered with a retriable response has been dropped: try again. */
  retryAfterAnswer(): void {
    this.upstream = null;
    this.releaseHost();
    this.startRetry(true);
  }

  /** An attempt failed; `staleConnection`: it ran on a kept-alive connection the server had closed. */
  onUpstreamFailure(kind: AttemptFailure, staleConnection: boolean): void {
    this.upstream = null;
    this.clearTryTimer();
    const retry = this.retry;
    retry.free();
    const cluster = this.cluster!;
    const host = this.host;
    if (host) {
      host.failures++;
      cluster.record(host, kind === 'connect' ? 'connect_failure' : 'reset');
    }
    this.releaseHost();
    const stream = this.stream;
    if (stream.responseStarted) {
      // Mid-response: nothing to answer with; the client sees the stream end.
      cluster.stats.rqRxReset++;
      stream.resetStream(kind === 'refused' ? 'UR' : 'UC');
      return;
    }
    const policy = retry.policy;
    let flag: ResponseFlag;
    let body: string;
    if (kind === 'connect') {
      cluster.stats.cxConnectFail++;
      flag = 'UF';
      body = LOCAL_BODY.connectFailure;
      if (
        policy &&
        (!this.bodySent || this.replay !== null) &&
        retry.admit(cluster, retriesConnectFailure(policy))
      ) {
        this.startRetry(true);
        return;
      }
    } else if (kind === 'protocol') {
      flag = 'UPE';
      body = LOCAL_BODY.protocolError;
    } else {
      flag = kind === 'refused' ? 'UR' : 'UC';
      body = LOCAL_BODY.connectionTermination;
      const bodyless = stream.framing === 'none';
      // A kept-alive connection the server closed just as it was reused: try once more on a fresh one.
      if (bodyless && staleConnection) {
        this.startRetry(false);
        return;
      }
      if (policy && this.replayable() && retry.admit(cluster, retriesReset(policy, kind === 'refused'))) {
        this.startRetry(true);
        return;
      }
    }
    if (retry.exhausted) flag = 'URX';
    stream.localReply(503, body, flag);
  }

  /** An HTTP/1.1 upstream switched protocols: the codec turns the exchange into a tunnel. */
  canUpgrade(): boolean {
    return this.stream.codec.upgrade !== undefined;
  }

  onUpstreamUpgraded(): void {
    this.upstream = null;
    this.clearTimers();
    this.cluster!.stats.status(101);
    this.stream.hcm.stats.upgrades++;
    this.releaseHost();
  }

  /** Whether the request can be sent again: no body, or all of it received and kept (up to 64 KiB). */
  private replayable(): boolean {
    return this.stream.framing === 'none' || (this.stream.requestDone && this.replay !== null);
  }

  /**
   * Tries again on another host. A counted retry (it holds a retry slot) waits a jittered
   * exponential back-off first; a stale kept-alive connection is retried at once.
   */
  private startRetry(counts: boolean): void {
    this.cluster!.stats.rqRetry++;
    if (!counts) {
      this.pickAndSend(this.lastHost);
      return;
    }
    const delay = this.retry.take();
    this.backOffTimer = setTimeout(this.afterBackOff, delay);
  }

  private readonly afterBackOff = (): void => {
    this.backOffTimer = undefined;
    if (this.stream.active && !this.stream.responseStarted) this.pickAndSend(this.lastHost);
  };

  /**
   * retry_policy.per_try_timeout passed without a response head: the attempt is abandoned and,
   * when the policy retries 5xx/gateway errors/resets and the request can be replayed, retried.
   */
  private readonly onTryTimeout = (): void => {
    this.tryTimer = undefined;
    const up = this.upstream;
    if (!this.stream.active || this.stream.responseStarted || up === null) return;
    this.retry.free();
    const cluster = this.cluster!;
    cluster.stats.rqTimeout++;
    if (this.host) cluster.record(this.host, 'timeout');
    this.upstream = null;
    up.cancel();
    this.releaseHost();
    const policy = this.retry.policy;
    if (policy && this.replayable() && this.retry.admit(cluster, retriesTimeout(policy))) {
      this.startRetry(true);
      return;
    }
    this.stream.localReply(504, LOCAL_BODY.timeout, 'UT');
  };

  private readonly onTimeout = (): void => {
    if (!this.timerArmed) return;
    this.timerArmed = false;
    const stream = this.stream;
    if (!stream.active) return;
    const cluster = this.cluster;
    if (cluster) {
      cluster.stats.rqTimeout++;
      if (this.host) cluster.record(this.host, 'timeout');
    }
    this.cancelUpstream();
    if (stream.responseStarted) stream.resetStream('UT');
    else stream.localReply(504, LOCAL_BODY.timeout, 'UT');
  };

  // ---- endings ----

  /** Stops timers and abandons the attempt in flight (local reply, reset, client gone). */
  cancel(abortMirrors: boolean): void {
    this.clearTimers();
    if (abortMirrors && this.mirrors !== null) for (const m of this.mirrors) m.abort();
    this.cancelUpstream();
  }

  private cancelUpstream(): void {
    const up = this.upstream;
    this.upstream = null;
    if (up !== null) up.cancel();
    this.releaseHost();
  }

  /** The exchange is over: forget the request (the stream may be reused for the next one). */
  release(): void {
    this.clearTimers();
    this.routed = false;
    this.replay = null;
    this.mirrors = null;
    this.bodySent = false;
    if (this.pendingBytes !== 0 || this.pending.length !== 0) {
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.upstream = null;
    this.cluster = null;
    this.lastHost = null;
  }

  /** The stream's codec is gone for good: drop the kept route timer. */
  dispose(): void {
    this.timerArmed = false;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private clearTryTimer(): void {
    if (this.tryTimer) {
      clearTimeout(this.tryTimer);
      this.tryTimer = undefined;
    }
  }

  private clearTimers(): void {
    // The route timer itself stays for the next request (see dispose).
    this.timerArmed = false;
    if (this.backOffTimer) {
      clearTimeout(this.backOffTimer);
      this.backOffTimer = undefined;
    }
    this.retry.free();
    this.clearTryTimer();
  }

  private releaseHost(): void {
    if (this.host) {
      this.cluster!.release(this.host);
      this.host = null;
    }
  }
}
