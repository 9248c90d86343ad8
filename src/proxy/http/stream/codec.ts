// What the codec-agnostic HTTP stream needs from a downstream codec (HTTP/1.1 connection or HTTP/2 stream).
import type net from 'node:net';
import type { Cluster } from '../../cluster/cluster.ts';
import type { ResponseFlag } from '../../common/response-flags.ts';
import type { DownstreamConnection } from '../filters/filter.ts';
import type { BodyFraming, HeadInfo } from '../h1/parser.ts';
import type { RouteDecision } from '../router/router.ts';

/**
 * How a body travels: an HTTP/1.1 framing (`chunked` bytes keep their chunk framing unless the
 * reader de-chunks them), or `frames`: HTTP/2 DATA frames, the length known only from content-length.
 */
export type WireFraming = BodyFraming | 'frames';

/**
 * A downstream codec turns bytes into a request head, body and trailers (handing them to its
 * HttpStream) and writes the stream's response back as bytes. It does nothing else: no filters,
 * no routing, no retries.
 */
export interface DownstreamCodec {
  /** Response bodies from an HTTP/1.1 upstream must arrive de-chunked (HTTP/2 clients, HTTP/1.0 clients). */
  readonly decodesResponseBody: boolean;
  /** Connection facts for filters (peer address, TLS identity); the codec caches them. */
  connectionFacts(): DownstreamConnection;
  /** The upstream needs the request body without HTTP/1.1 chunk framing (an HTTP/2 upstream). */
  decodeRequestBody(): void;
  /** Stops (true) or resumes (false) reading the client: backpressure from the upstream. */
  pauseReading(paused: boolean): void;
  /**
   * Writes the response head. `framing`/`contentLength` say how the body that follows is framed
   * (`chunked` from an HTTP/1.1 upstream that was not de-chunked: the bytes keep their framing);
   * `upstreamCloses`: an HTTP/1.1 upstream delimits the body by closing; `endStream`: no body.
   */
  encodeHeaders(
    status: number,
    reason: string,
    headers: string[],
    framing: WireFraming,
    contentLength: number,
    upstreamCloses: boolean,
    endStream: boolean,
  ): void;
  /**
   * Response body bytes. `borrowed`: they are in a read buffer the next read overwrites, so what
   * is kept (queued for a write) must be copied. Returns true when `chunk` itself is still
   * referenced after the call (never for borrowed bytes).
   */
  encodeData(chunk: Buffer, borrowed: boolean): boolean;
  /** True when the client is slow: the caller pauses its source until `onceDrained`. */
  readonly needsDrain: boolean;
  /** Calls `resume` once, when the client has drained or has gone away (never left paused). */
  onceDrained(resume: () => void): void;
  /** The bytes of one upstream read are all handed over: write anything held back (a response head). */
  flush(): void;
  /** Response trailers (flat list), written when the body framing can carry them. */
  encodeTrailers(trailers: string[]): void;
  /** The response is complete. */
  encodeEnd(): void;
  /** Writes a whole local reply (the proxy's own answer), for HTTP or gRPC clients. */
  encodeLocalReply(
    status: number,
    body: string,
    flag: ResponseFlag | undefined,
    extraHeaders: string[] | null,
    grpc: boolean,
  ): void;
  /** Ends the exchange abruptly (a failure after the response started). */
  resetStream(): void;
  /** The stream finished (completed or reset): the codec may read the next request. */
  streamDone(): void;
  /** CONNECT terminated by this proxy: tunnel the client's bytes to a host of `cluster`. */
  tunnel(cluster: Cluster, decision: RouteDecision): void;
  /**
   * An HTTP/1.1 upstream switched protocols (101): the connection becomes a tunnel from now on.
   * Absent for codecs that cannot carry an upgrade (HTTP/2).
   */
  upgrade?(upstream: net.Socket, info: HeadInfo, headers: string[], rest: Buffer): void;
}
