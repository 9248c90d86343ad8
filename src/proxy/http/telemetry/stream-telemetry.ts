// Telemetry of every HTTP request, written once on the codec-agnostic stream: Istio's metrics, peer metadata, request time, access logs, spans.
import {
  type Reporter,
  type RequestProtocol,
  type RequestSeries,
  type SecurityPolicy,
  type ServiceLabels,
  UNKNOWN_SERVICE,
  UNKNOWN_WORKLOAD,
  type WorkloadLabels,
} from '../../../observe/istio-metrics.ts';
import type { HistogramSeries } from '../../../observe/metrics.ts';
import { encodePeerMetadata, PEER_METADATA_HEADER } from '../../../observe/peer-metadata.ts';
import type { ProxyTelemetry } from '../../../observe/proxy-telemetry.ts';
import type { ResponseFlag } from '../../common/response-flags.ts';
import type { HcmConfig } from '../connection-manager-config.ts';
import type { StreamHooks } from '../stream/hooks.ts';
import type { HttpStream } from '../stream/http-stream.ts';
import { writeAccessLogs } from './access-log-entry.ts';
import { type RequestState, wallTime } from './request-state.ts';
import { finishSpan, startSpan } from './tracing.ts';

/** The labels of a request's series and the series (StreamTelemetry.series). */
interface LastSeries {
  peer: WorkloadLabels;
  service: ServiceLabels;
  protocol: RequestProtocol;
  policy: SecurityPolicy;
  code: number;
  grpcStatus: string;
  flags: string;
  series: RequestSeries;
}

const STATE = Symbol('weft.telemetry');
type WithState = HttpStream & { [STATE]?: RequestState };

function stateOf(stream: HttpStream): RequestState {
  const s = stream as WithState;
  let st = s[STATE];
  if (st === undefined) {
    st = {
      begun: false,
      start: 0,
      requestBytes: 0,
      responseBytes: 0,
      peer: UNKNOWN_WORKLOAD,
      policy: 'unknown',
      grpcStatus: '-',
      responseHeaders: null,
      span: undefined,
    };
    s[STATE] = st;
  }
  return st;
}

/**
 * The hooks of one connection manager. `reporter` is `destination` for the sidecar's inbound
 * listener (requests to its own app) and `source` otherwise (the app's calls, gateways).
 */
export class StreamTelemetry implements StreamHooks {
  private readonly telemetry: ProxyTelemetry;
  private readonly config: HcmConfig;
  private readonly reporter: Reporter;
  /** This workload's metadata header value, built once. */
  private readonly selfHeader: string;
  private readonly rqTime;
  /** The last request's series and the labels it was found for: most requests reuse them without a lookup. */
  private last: LastSeries | undefined;
  /** The last upstream cluster's name, its service and its envoy_cluster_upstream_rq_time. */
  private lastCluster = '';
  private lastClusterService: ServiceLabels = UNKNOWN_SERVICE;
  private lastClusterRqTime: HistogramSeries | undefined;

  /** `statPrefix`: the connection manager's stats prefix (envoy_http_downstream_rq_time). */
  constructor(config: HcmConfig, telemetry: ProxyTelemetry, reporter: Reporter, statPrefix: string) {
    this.config = config;
    this.telemetry = telemetry;
    this.reporter = reporter;
    this.selfHeader = encodePeerMetadata(telemetry.istio.self);
    this.rqTime = telemetry.downstreamRqTime(statPrefix);
  }

  requestHeaders(stream: HttpStream): void {
    // An earlier hook (path hardening) may have answered already: that request is complete.
    if (!stream.active) return;
    const st = this.begin(stream);
    const head = stream.head;
    const claim = head.get(PEER_METADATA_HEADER);
    // Never passed on as it came: an app cannot claim to be another workload.
    if (claim !== undefined) head.remove(PEER_METADATA_HEADER);
    if (this.reporter === 'destination') {
      const principal = stream.codec.connectionFacts().peerPrincipal;
      const peer = this.telemetry.peerMetadata.trusted(claim, principal);
      if (peer) st.peer = peer;
    } else head.add(PEER_METADATA_HEADER, this.selfHeader);
    st.span = this.config.tracing ? startSpan(stream, this.config.tracing, this.reporter) : undefined;
  }

  /** Starts a request's record (also for one answered before the hooks ran: a malformed head). */
  private begin(stream: HttpStream): RequestState {
    const st = stateOf(stream);
    st.begun = true;
    st.start = performance.now();
    st.requestBytes = 0;
    st.responseBytes = 0;
    st.grpcStatus = '-';
    st.responseHeaders = null;
    st.span = undefined;
    if (this.reporter === 'destination') {
      const principal = stream.codec.connectionFacts().peerPrincipal;
      st.peer = this.telemetry.peerOfPrincipal(principal);
      st.policy = principal ? 'mutual_tls' : 'none';
    } else {
      st.peer = UNKNOWN_WORKLOAD;
      st.policy = 'unknown';
    }
    return st;
  }

  requestData(stream: HttpStream, bytes: number): void {
    stateOf(stream).requestBytes += bytes;
  }

  responseHeaders(stream: HttpStream, status: number, headers: string[]): void {
    const st = stateOf(stream);
    st.responseHeaders = headers;
    // A proxied response counts in downstream_rq_<class> (local replies are counted where they are made).
    stream.hcm.stats.status(status);
    let claim: string | undefined;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (name === PEER_METADATA_HEADER) {
        claim = headers[i + 1];
        headers.splice(i, 2);
        i -= 2;
      } else if (name === 'grpc-status') st.grpcStatus = headers[i + 1];
    }
    if (this.reporter === 'destination') {
      if (st.policy === 'mutual_tls') headers.push(PEER_METADATA_HEADER, this.selfHeader);
    } else if (claim !== undefined) {
      // The upstream proved its identity in the mTLS handshake (the cluster checks its SAN).
      const host = stream.router.upstreamHost;
      const peer = host?.transport ? this.telemetry.peerMetadata.claimed(claim) : undefined;
      if (peer) st.peer = peer;
    }
  }

  responseTrailers(stream: HttpStream, trailers: string[]): void {
    for (let i = 0; i < trailers.length; i += 2)
      if (trailers[i] === 'grpc-status') stateOf(stream).grpcStatus = trailers[i + 1];
  }

  responseData(stream: HttpStream, bytes: number): void {
    stateOf(stream).responseBytes += bytes;
  }

  complete(stream: HttpStream, reset: boolean, flag: ResponseFlag | undefined): void {
    const st = stateOf(stream);
    if (!st.begun) this.begin(stream);
    st.begun = false;
    const now = performance.now();
    const ms = now - st.start;
    this.rqTime.observe(ms);
    const router = stream.router;
    if (st.responseHeaders !== null && router.upstreamHost !== null && router.cluster !== null && !reset)
      this.upstreamRqTime(router.cluster.name).observe(now - router.attemptStart);
    const code = reset && !stream.responseStarted ? 0 : stream.status;
    const flags = flag ?? '-';
    const t = this.telemetry;
    // A request answered before routing (a fault abort) still names its route's service, as in Istio.
    const service =
      this.reporter === 'destination'
        ? t.selfService
        : this.serviceOfCluster(router.cluster?.name ?? stream.routeCluster() ?? '');
    const s = this.series(
      st.peer,
      service,
      stream.grpc ? 'grpc' : 'http',
      st.policy,
      code,
      st.grpcStatus,
      flags,
    );
    s.requests.value++;
    s.duration.observe(ms);
    s.requestBytes.observe(st.requestBytes);
    s.responseBytes.observe(st.responseBytes);
    if (this.config.accessLogs.length > 0)
      writeAccessLogs(stream, this.config.accessLogs, st, code, flags, ms, t);
    if (st.span) finishSpan(stream, st, code, flags, t);
    if (t.tap.active) this.publishTap(stream, st, code, flags, ms, service);
  }

  /** The series of a request with these labels: the last request's when they are the same. */
  private series(
    peer: WorkloadLabels,
    service: ServiceLabels,
    protocol: RequestProtocol,
    policy: SecurityPolicy,
    code: number,
    grpcStatus: string,
    flags: string,
  ): RequestSeries {
    const l = this.last;
    if (
      l !== undefined &&
      l.code === code &&
      l.peer === peer &&
      l.service === service &&
      l.protocol === protocol &&
      l.policy === policy &&
      l.grpcStatus === grpcStatus &&
      l.flags === flags
    )
      return l.series;
    const series = this.telemetry.istio
      .edge(this.reporter, peer, service, protocol, policy)
      .request(code, grpcStatus, flags);
    this.last = { peer, service, protocol, policy, code, grpcStatus, flags, series };
    return series;
  }

  private serviceOfCluster(name: string): ServiceLabels {
    if (name !== this.lastCluster || this.lastCluster === '') this.useCluster(name);
    return this.lastClusterService;
  }

  private upstreamRqTime(name: string): HistogramSeries {
    if (name !== this.lastCluster || this.lastClusterRqTime === undefined) this.useCluster(name);
    this.lastClusterRqTime ??= this.telemetry.upstreamRqTime(name);
    return this.lastClusterRqTime;
  }

  private useCluster(name: string): void {
    this.lastCluster = name;
    this.lastClusterService = this.telemetry.serviceOfCluster(name);
    this.lastClusterRqTime = undefined;
  }

  /** Hands the request's facts to the tap subscribers (only called while someone taps). */
  private publishTap(
    stream: HttpStream,
    st: RequestState,
    status: number,
    flags: string,
    ms: number,
    service: ServiceLabels,
  ): void {
    const head = stream.head;
    this.telemetry.tap.publish({
      reporter: this.reporter,
      startWallMs: wallTime(st.start),
      method: head.method,
      authority: head.authority ?? '',
      rawPath: head.path ?? '',
      status,
      grpcStatus: st.grpcStatus,
      latencyMs: ms,
      requestBytes: st.requestBytes,
      responseBytes: st.responseBytes,
      flags,
      security: st.policy,
      self: this.telemetry.istio.self,
      peer: st.peer,
      service,
    });
  }
}
