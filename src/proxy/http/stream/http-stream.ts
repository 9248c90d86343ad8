// One HTTP request/response exchange, whatever the codec: runs the filter chain and hands off to the router.

import { removeFlat, truncate } from '../../common/flat-list.ts';
import type { ResponseFlag } from '../../common/response-flags.ts';
import { applyEdgeHeaders } from '../edge-headers.ts';
import type { HttpFilter, HttpFilterConfig, StreamInfo } from '../filters/filter.ts';
import { isGrpc, LOCAL_BODY } from '../local-reply.ts';
import { RequestHead } from '../request-head.ts';
import { requestId } from '../request-id.ts';
import { firstCluster, matchRoute, perFilterConfig, type RouteMatchResult } from '../router/router.ts';
import { RouterFilter } from '../router/router-filter.ts';
import type { DownstreamCodec, WireFraming } from './codec.ts';
import type { ActiveStream, StreamManager } from './stream-api.ts';

const NO_FILTERS: readonly HttpFilterConfig[] = [];

/** Where one pass over the decode filters ended (Envoy's FilterHeadersStatus, seen from the chain). */
export type DecodeOutcome =
  /** Every filter said Continue: the router (the terminal filter) runs next. */
  | 'Continue'
  /** A filter returned StopIteration and will call continueDecoding() (or reply) later. */
  | 'Stopped'
  /** A filter (or hook) answered locally: the exchange is over or its response is on its way. */
  | 'Replied';

/**
 * The codec-agnostic stream (Envoy's ActiveStream). A codec fills `head` and the request framing,
 * then calls decodeHeaders / decodeData / decodeComplete, or downstreamReset when the client goes
 * away. The stream runs hooks and filters, then the router, which answers through encodeHeaders /
 * encodeData / encodeTrailers / encodeComplete (or localReply / resetStream). An HTTP/1.1
 * connection reuses one stream for each of its requests; an HTTP/2 stream gets its own.
 */
export class HttpStream implements ActiveStream {
  readonly hcm: StreamManager;
  readonly codec: DownstreamCodec;
  readonly head = new RequestHead();
  /** The terminal filter: route, upstream, retries, timeouts, mirrors. */
  readonly router: RouterFilter;
  /** How the request body arrives (set by the codec before decodeHeaders). */
  framing: WireFraming = 'none';
  /** The request's content-length, -1 when not given. */
  contentLength = -1;
  /** The protocol an HTTP/1.1 client asks to upgrade to (lowercase), '' when none. */
  upgrade = '';
  /** A gRPC request (content-type application/grpc*): local replies are gRPC answers. */
  grpc = false;
  /** Between decodeHeaders and the end of the exchange. */
  active = false;
  /** The whole request has been received. */
  requestDone = false;
  /** The response head has gone out (or a local reply): later failures can only reset. */
  responseStarted = false;
  /** The response status (0 until known) and the Envoy response flag, for hooks and logs. */
  status = 0;
  flag: ResponseFlag | undefined;
  /** The x-request-id of this request ('' when the manager generates none and the client sent none). */
  requestId = '';
  /** The chain this request runs (the listener's, kept in case its config is replaced meanwhile). */
  private chain: readonly HttpFilterConfig[] = NO_FILTERS;
  /** The instances created for this request so far, in chain order (route-only filters may be skipped). */
  private readonly filters: HttpFilter[] = [];
  private filterIndex = 0;
  private extraResponseHeaders: string[] | null = null;
  /** The route this request matched (null: none; undefined: not matched yet, or cleared by a filter). */
  private matched: RouteMatchResult | null | undefined;
  private info: StreamInfo | undefined;
  /** request_timeout: armed while the request is incomplete. */
  private requestTimer: NodeJS.Timeout | undefined;

  constructor(hcm: StreamManager, codec: DownstreamCodec) {
    this.hcm = hcm;
    this.codec = codec;
    this.router = new RouterFilter(this);
  }

  // ---- decode direction (codec → filters → router) ----

  /** The request head is complete (`head`, `framing`, `contentLength`, `upgrade` filled in). */
  decodeHeaders(endStream: boolean): void {
    this.active = true;
    this.requestDone = endStream;
    this.responseStarted = false;
    this.status = 0;
    this.flag = undefined;
    this.filterIndex = 0;
    this.matched = undefined;
    this.info = undefined;
    this.extraResponseHeaders = null;
    const hcm = this.hcm;
    hcm.stats.rqTotal++;
    hcm.stats.rqActive++;
    const head = this.head;
    this.grpc = isGrpc(head.get('content-type'));
    const cfg = hcm.config;
    if (cfg.useRemoteAddress) applyEdgeHeaders(head, cfg);
    if (cfg.generateRequestId) {
      const id = head.get('x-request-id');
      if (id === undefined) {
        this.requestId = requestId();
        head.headers.push('x-request-id', this.requestId);
      } else this.requestId = id;
    } else this.requestId = '';
    if (cfg.alwaysSetRequestIdInResponse && this.requestId !== '')
      this.addResponseHeader('x-request-id', this.requestId);
    if (cfg.via !== '') {
      const via = head.getAll('via');
      head.set('via', via === undefined ? cfg.via : `${via}, ${cfg.via}`);
      this.addResponseHeader('via', cfg.via);
    }
    if (cfg.requestTimeoutMs > 0 && !endStream)
      this.requestTimer = setTimeout(this.onRequestTimeout, cfg.requestTimeoutMs);
    const hooks = hcm.hooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].requestHeaders?.(this);
    if (!this.active || this.responseStarted) return;
    const upgrade = head.method === 'CONNECT' ? 'connect' : this.upgrade;
    if (upgrade !== '' && !cfg.upgrades.has(upgrade)) {
      this.localReply(403, LOCAL_BODY.upgradeFailed, undefined);
      return;
    }
    this.chain = cfg.filters;
    if (cfg.filters.length > 0 && this.runDecodeFilters() !== 'Continue') return;
    this.router.decodeHeaders(this);
  }

  /** Request body bytes (chunk framing kept when the codec passes HTTP/1.1 chunked bytes through). */
  decodeData(chunk: Buffer): void {
    const hooks = this.hcm.hooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].requestData?.(this, chunk.length);
    this.router.decodeData(chunk);
  }

  /** The request is complete. */
  decodeComplete(): void {
    this.requestDone = true;
    if (this.requestTimer !== undefined) this.clearRequestTimer();
    const hooks = this.hcm.hooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].requestComplete?.(this);
    this.router.decodeComplete();
  }

  /** The codec could not parse the request: answer it (400, 431, 501; flag DPE) without filters or routing. */
  rejectRequest(status: number, detail: string): void {
    this.active = true;
    this.requestDone = true;
    this.responseStarted = false;
    this.grpc = false;
    this.chain = NO_FILTERS;
    this.extraResponseHeaders = null;
    this.hcm.stats.rqActive++;
    this.localReply(status, detail, 'DPE');
  }

  /** The request body is malformed: 400 (flag DPE) unless the response started (then a reset); mirrors dropped. */
  rejectBody(detail: string): void {
    if (!this.active) return;
    this.requestDone = true;
    this.router.cancel(true);
    this.localReply(400, detail, 'DPE');
  }

  /**
   * stream_idle_timeout fired: 408 (flag SI) when no response has started, else a reset; the
   * upstream attempt is cancelled.
   */
  idleTimeout(): void {
    if (!this.active) return;
    this.hcm.stats.rqIdleTimeout++;
    this.requestDone = true;
    this.router.cancel(true);
    this.localReply(408, 'stream timeout', 'SI');
  }

  /** request_timeout fired before the whole request arrived: 408 when no response has started, else a reset. */
  private readonly onRequestTimeout = (): void => {
    this.requestTimer = undefined;
    if (!this.active || this.requestDone) return;
    this.hcm.stats.rqTimeout++;
    this.router.cancel(true);
    this.localReply(408, 'request timeout', undefined);
  };

  private clearRequestTimer(): void {
    clearTimeout(this.requestTimer);
    this.requestTimer = undefined;
  }

  /** The client went away (connection closed or stream reset) before the exchange ended. */
  downstreamReset(): void {
    if (!this.active) return;
    this.hcm.stats.rxReset++;
    this.router.cancel(true);
    this.finish(true, 'DC', false);
  }

  /** Runs the chain from `filterIndex`, creating each filter as it is reached. */
  private runDecodeFilters(): DecodeOutcome {
    const chain = this.chain;
    while (this.filterIndex < chain.length) {
      const config = chain[this.filterIndex++];
      if (config.routeOnly === true && this.routeConfig(config.name) === undefined) continue;
      const filter = config.createFilter();
      this.filters.push(filter);
      const status = filter.decodeHeaders(this);
      if (!this.active || this.responseStarted) return 'Replied';
      if (status === 'StopIteration') return 'Stopped';
    }
    return 'Continue';
  }

  // ---- FilterStream (what filters see) ----

  continueDecoding(): void {
    if (!this.active || this.responseStarted) return;
    if (this.runDecodeFilters() === 'Continue') this.router.decodeHeaders(this);
  }

  addResponseHeader(name: string, value: string): void {
    (this.extraResponseHeaders ??= []).push(name.toLowerCase(), value);
  }

  sendLocalReply(status: number, body: string, flag: ResponseFlag | undefined, headers?: string[]): void {
    if (headers)
      for (let i = 0; i < headers.length; i += 2) this.addResponseHeader(headers[i], headers[i + 1]);
    this.localReply(status, body, flag);
  }

  /** The route this request matches, matched once and kept until clearRouteCache (Envoy's route cache). */
  routeMatch(): RouteMatchResult | undefined {
    if (this.matched === undefined)
      this.matched = matchRoute(this.hcm.config, this.hcm.routes(), this.head) ?? null;
    return this.matched ?? undefined;
  }

  clearRouteCache(): void {
    this.matched = undefined;
  }

  routeConfig(filterName: string): unknown {
    return perFilterConfig(this.routeMatch(), filterName);
  }

  routeCluster(): string | undefined {
    return firstCluster(this.routeMatch());
  }

  /** Connection facts and per-request dynamic metadata (Envoy's StreamInfo), built on first use. */
  get streamInfo(): StreamInfo {
    this.info ??= { connection: this.codec.connectionFacts(), dynamicMetadata: new Map() };
    return this.info;
  }

  // ---- encode direction (router → filters → codec) ----

  /** The upstream's response head, after the route's header changes (see DownstreamCodec.encodeHeaders). */
  encodeHeaders(
    status: number,
    reason: string,
    headers: string[],
    framing: WireFraming,
    contentLength: number,
    upstreamCloses: boolean,
    endStream: boolean,
  ): void {
    this.responseStarted = true;
    this.status = status;
    const filters = this.filters;
    for (let i = 0; i < filters.length; i++) filters[i].encodeHeaders?.(this, status, headers);
    if (this.extraResponseHeaders !== null) {
      if (this.hcm.config.alwaysSetRequestIdInResponse) removeFlat(headers, 'x-request-id');
      headers.push(...this.extraResponseHeaders);
    }
    const hooks = this.hcm.hooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].responseHeaders?.(this, status, headers);
    this.codec.encodeHeaders(status, reason, headers, framing, contentLength, upstreamCloses, endStream);
  }

  /** Response body bytes; true when `chunk` stays referenced (see DownstreamCodec.encodeData). */
  encodeData(chunk: Buffer, borrowed = false): boolean {
    const hooks = this.hcm.hooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].responseData?.(this, chunk.length);
    return this.codec.encodeData(chunk, borrowed);
  }

  encodeTrailers(trailers: string[]): void {
    const hooks = this.hcm.hooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].responseTrailers?.(this, trailers);
    this.codec.encodeTrailers(trailers);
  }

  /** The response is complete: the exchange ends. */
  encodeComplete(): void {
    if (!this.active) return;
    this.codec.encodeEnd();
    this.finish(false, this.flag, true);
  }

  /** Answers with the proxy's own response; after the head went out, resets instead. */
  localReply(status: number, body: string, flag: ResponseFlag | undefined): void {
    if (!this.active) return;
    if (this.responseStarted) {
      this.resetStream(flag ?? 'UC');
      return;
    }
    this.responseStarted = true;
    this.status = status;
    this.flag = flag;
    this.router.cancel(false);
    this.codec.encodeLocalReply(status, body, flag, this.extraResponseHeaders, this.grpc);
    this.hcm.stats.status(status);
    this.finish(false, flag, true);
  }

  /** Cuts the exchange (a failure after the response started, or a bad request body). */
  resetStream(flag: ResponseFlag): void {
    if (!this.active) return;
    this.flag = flag;
    this.router.cancel(true);
    this.finish(true, flag, false);
    this.codec.resetStream();
  }

  /** The exchange became a tunnel (CONNECT or an upgrade): it is over as a request. */
  tunnelEstablished(status: number): void {
    if (!this.active) return;
    this.responseStarted = true;
    this.status = status;
    this.router.cancel(false);
    this.finish(false, undefined, false);
  }

  private finish(reset: boolean, flag: ResponseFlag | undefined, tellCodec: boolean): void {
    this.active = false;
    if (this.requestTimer !== undefined) this.clearRequestTimer();
    this.hcm.stats.rqActive--;
    const filters = this.filters;
    if (filters.length > 0) {
      for (let i = 0; i < filters.length; i++) filters[i].onDestroy?.();
      truncate(filters, 0);
    }
    const hooks = this.hcm.hooks;
    for (let i = 0; i < hooks.length; i++) hooks[i].complete?.(this, reset, flag);
    this.matched = undefined; // an idle connection does not keep a replaced route table alive
    this.router.release();
    if (tellCodec) this.codec.streamDone();
  }
}
