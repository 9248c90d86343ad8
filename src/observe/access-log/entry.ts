// What one access log line is made of: the facts of a finished request, filled once by the stream's telemetry hook.

export interface AccessLogEntry {
  /** When the request head arrived (ms since the epoch). */
  startTime: number;
  /** `HTTP/1.1`, `HTTP/2`, `HTTP/1.0`. */
  protocol: string;
  /** A request header (lower-case name; pseudo-headers `:method`, `:path`, `:authority`, `:scheme`). */
  requestHeader(name: string): string | undefined;
  /** A response header (lower-case name). */
  responseHeader(name: string): string | undefined;
  /** 0 when no response was sent. */
  responseCode: number;
  /** Envoy's response flags, `-` for none. */
  responseFlags: string;
  responseCodeDetails: string;
  /** Request and response body bytes. */
  bytesReceived: number;
  bytesSent: number;
  /** From the request head to the last response byte (ms). */
  durationMs: number;
  /** `ip:port` of the upstream host, '' when none was picked. */
  upstreamHost: string;
  upstreamCluster: string;
  upstreamLocalAddress: string;
  downstreamLocalAddress: string;
  downstreamRemoteAddress: string;
  /** SNI of the downstream TLS connection, '' when none. */
  requestedServerName: string;
  routeName: string;
  /** The verified client certificate's URI SAN, '' when none. */
  downstreamPeerUriSan: string;
}
