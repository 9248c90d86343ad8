// The HTTP filter shape (Envoy's): config parsed once per listener, one filter instance per stream.

import type { Msg } from '../../common/fields.ts';
import type { ResponseFlag } from '../../common/response-flags.ts';
import type { ClientCertFacts } from '../../tls/connection-facts.ts';
import type { RequestHead } from '../request-head.ts';

/** What a filter tells the manager after a step (Envoy's FilterHeadersStatus). */
export type FilterStatus =
  /** Go on to the next filter. */
  | 'Continue'
  /** Hold the request here; the filter calls `stream.continueDecoding()` later or sends a local reply. */
  | 'StopIteration';

/** The downstream connection a request arrived on, as Envoy's RBAC and jwt_authn see it. */
export interface DownstreamConnection {
  /**
   * The verified peer certificate's URI SAN, exactly as Envoy's `authenticated.principal_name`
   * matches it: `spiffe://cluster.local/ns/<ns>/sa/<sa>`. Absent on plaintext connections or
   * without a client certificate.
   */
  readonly peerPrincipal?: string;
  /** The peer's address (Envoy's direct remote address), e.g. `10.0.0.7` or `::1`. */
  readonly sourceIp: string;
  /** The local address the connection was accepted on. */
  readonly destinationIp?: string;
  /** The local port the connection was accepted on. */
  readonly destinationPort: number;
  /** TLS SNI the client sent, if any. */
  readonly sni?: string;
  /** The verified client certificate (mutual TLS), for x-forwarded-client-cert. */
  readonly clientCert?: ClientCertFacts;
}

/** What the proxy knows about a request besides its head (Envoy's StreamInfo). */
export interface StreamInfo {
  readonly connection: DownstreamConnection;
  /**
   * Envoy's dynamic metadata for this request: filter name → what that filter recorded (e.g. the
   * verified JWT payload under `envoy.filters.http.jwt_authn`). A new, empty map per request.
   */
  readonly dynamicMetadata: Map<string, Record<string, unknown>>;
}

/** What a filter may do to the stream it runs on. */
export interface FilterStream {
  readonly head: RequestHead;
  /**
   * Connection facts and dynamic metadata, filled in by the connection manager. Absent: filters
   * that need them treat the peer as unauthenticated and share no metadata (RBAC fails closed).
   */
  readonly streamInfo?: StreamInfo;
  /** Answers the request locally (e.g. 403 from authz); later filters and the router do not run. */
  sendLocalReply(status: number, body: string, flag: ResponseFlag | undefined, headers?: string[]): void;
  /** Resumes a stream stopped with StopIteration. */
  continueDecoding(): void;
  /** Response headers the filters add (applied when the response head is written). */
  addResponseHeader(name: string, value: string): void;
  /**
   * The per-route config (`typed_per_filter_config`) under `filterName` of the route this request
   * matches (route, else virtual host), as the filter's factory parsed it; undefined when none.
   */
  routeConfig?(filterName: string): unknown;
  /** The (first) cluster the matched route sends to, for filters that apply per upstream cluster. */
  routeCluster?(): string | undefined;
  /**
   * Forgets the route matched so far (Envoy's clearRouteCache): a filter calls it after changing
   * anything route matching reads (request headers, path, authority, method), so that later
   * filters and the router match the request as it is now. Without it they keep the first match.
   */
  clearRouteCache?(): void;
}

/** One filter instance for one stream. */
export interface HttpFilter {
  /** Request headers are in; may change them, stop, or reply locally. */
  decodeHeaders(stream: FilterStream): FilterStatus;
  /** Response headers are in (flat lowercase list, mutable). */
  encodeHeaders?(stream: FilterStream, status: number, headers: string[]): void;
  /** The stream ended (completed or reset). */
  onDestroy?(): void;
}

/** A filter's parsed config: shared by every stream of a listener. */
export interface HttpFilterConfig {
  /** Filter name from the HCM (e.g. `envoy.filters.http.router`). */
  readonly name: string;
  /**
   * The filter does nothing on a request whose route and virtual host hold no
   * typed_per_filter_config under `name` (CORS; fault without listener-level faults): the stream
   * then skips it, creating no instance and running none of its steps.
   */
  readonly routeOnly?: boolean;
  createFilter(): HttpFilter;
}

/** Parses a filter's typed_config (rejecting unsupported fields with UnsupportedFieldError). */
export interface HttpFilterFactory {
  /** The Envoy type URL of the filter's config message. */
  readonly typeUrl: string;
  /** The router ends the chain; it is built into the connection manager. */
  readonly terminal: boolean;
  parse(name: string, config: Msg, where: string): HttpFilterConfig | undefined;
  /** Parses a per-route config (`typed_per_filter_config`); filters without one reject per-route config. */
  parsePerRoute?(config: Msg, where: string): unknown;
}
