// What the router, the codecs and lifecycle hooks see of a stream and of its connection manager (no cycles).
import type net from 'node:net';
import type { ClusterManager } from '../../cluster/cluster-manager.ts';
import type { ResponseFlag } from '../../common/response-flags.ts';
import type { HcmConfig } from '../connection-manager-config.ts';
import type { FilterStream } from '../filters/filter.ts';
import type { HttpStats } from '../http-stats.ts';
import type { RouteTable } from '../router/route-table.ts';
import type { RouteMatchResult } from '../router/router.ts';
import type { DownstreamCodec, WireFraming } from './codec.ts';

/** The connection manager as its codecs and streams use it (HttpConnectionManager implements it). */
export interface StreamManager {
  readonly config: HcmConfig;
  /** The route table now (RDS may replace it between requests). */
  routes(): RouteTable | undefined;
  readonly clusters: ClusterManager;
  readonly stats: HttpStats;
  /** Lifecycle observers of every stream, in the order they were added. */
  readonly hooks: readonly StreamHooks[];
  /** Keep-alive is over: connections close after their current response. */
  readonly draining: boolean;
  /** A downstream HTTP/1.1 connection closed (or handed its socket back with `handle`). */
  connectionClosed(conn: object): void;
  /** Takes a downstream connection; `initial` holds bytes already read from it. */
  handle(socket: net.Socket, initial: Buffer): void;
}

/** One request/response exchange as the router and hooks see it (HttpStream implements it). */
export interface ActiveStream extends FilterStream {
  readonly hcm: StreamManager;
  readonly codec: DownstreamCodec;
  /** How the request body arrives; its content-length (-1 when not given); the upgrade asked for. */
  readonly framing: WireFraming;
  readonly contentLength: number;
  readonly upgrade: string;
  /** A gRPC request: local replies are gRPC answers. */
  readonly grpc: boolean;
  /** Between the request head and the end of the exchange. */
  readonly active: boolean;
  readonly requestDone: boolean;
  readonly responseStarted: boolean;
  /** The response status (0 until known), its Envoy response flag, and the x-request-id. */
  readonly status: number;
  readonly flag: ResponseFlag | undefined;
  readonly requestId: string;
  /**
   * The route the request matches: matched on first use (a filter's routeConfig, else the router)
   * and kept for the request until a filter calls clearRouteCache().
   */
  routeMatch(): RouteMatchResult | undefined;
  localReply(status: number, body: string, flag: ResponseFlag | undefined): void;
  encodeHeaders(
    status: number,
    reason: string,
    headers: string[],
    framing: WireFraming,
    contentLength: number,
    upstreamCloses: boolean,
    endStream: boolean,
  ): void;
  /** Response body bytes (`borrowed`: see DownstreamCodec.encodeData); true when `chunk` stays referenced. */
  encodeData(chunk: Buffer, borrowed?: boolean): boolean;
  encodeTrailers(trailers: string[]): void;
  encodeComplete(): void;
  resetStream(flag: ResponseFlag): void;
}

/**
 * Observers of every stream of a connection manager, called in this order (see docs/proxy.md,
 * "The request lifecycle"). Each hook is optional and runs synchronously on the hot path: keep it
 * small and allocation-free where it can be. Hooks must not throw.
 */
export interface StreamHooks {
  /**
   * The request head is decoded, before any filter: the place to sanitise headers or normalise the
   * path (a hook may answer with `stream.sendLocalReply`, e.g. 400 for a bad path).
   */
  requestHeaders?(stream: ActiveStream): void;
  /** Request body bytes (as the codec delivered them; chunk framing may still be on them). */
  requestData?(stream: ActiveStream, bytes: number): void;
  /** The request is complete (body and trailers in). */
  requestComplete?(stream: ActiveStream): void;
  /** The response head is about to be written (after route and filter changes); `headers` is mutable. */
  responseHeaders?(stream: ActiveStream, status: number, headers: string[]): void;
  /** Response body bytes written to the client. */
  responseData?(stream: ActiveStream, bytes: number): void;
  /** Response trailers (flat list) about to be written (gRPC's `grpc-status` travels here). */
  responseTrailers?(stream: ActiveStream, trailers: string[]): void;
  /**
   * The stream ended: `reset` false when the response completed (a local reply included), true when
   * it was cut (client gone, upstream reset mid-response, timeout after the head). `flag` is the
   * Envoy response flag, if any.
   */
  complete?(stream: ActiveStream, reset: boolean, flag: ResponseFlag | undefined): void;
}
