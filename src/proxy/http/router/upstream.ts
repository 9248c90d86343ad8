// The contract between the router and one upstream attempt (upstream-h1.ts, upstream-h2.ts).
import type { WireFraming } from '../stream/codec.ts';

/** One attempt at the upstream (an HTTP/1.1 exchange or an HTTP/2 stream). */
export interface UpstreamRequest {
  /** The attempt can take body bytes now. */
  readonly ready: boolean;
  /** Writes request body bytes; false when the upstream is slow (call onceDrained). */
  sendData(chunk: Buffer): boolean;
  onceDrained(resume: () => void): void;
  /** The request body is complete. */
  endData(): void;
  /** Abandons the attempt (timeout, reset, local reply): its connection is not reused. */
  cancel(): void;
}

/** Why an attempt failed, as the router tells retry conditions apart. */
export type AttemptFailure =
  /** No connection (refused, connect timeout, TLS failure): nothing reached the host. */
  | 'connect'
  /** The connection or stream ended before (or during) the response. */
  | 'reset'
  /** The HTTP/2 stream was reset by the upstream (RST_STREAM, e.g. REFUSED_STREAM). */
  | 'refused'
  /** The upstream's response could not be parsed. */
  | 'protocol';

/** What the router does with an upstream response head. */
export type AnswerVerdict = 'Forward' | 'Retry';

/** What an attempt reports to the router that started it (RouterFilter implements it). */
export interface AttemptOwner {
  /** The attempt's request head went out: the body to send now (the whole body so far for a retry). */
  attemptReady(): readonly Buffer[];
  /** The body from attemptReady() was written; ends the request when it is complete. */
  bodyWritten(up: UpstreamRequest): void;
  /** The response head; `Retry` tells the attempt to drop this answer (the router tries again). */
  onUpstreamHeaders(
    status: number,
    reason: string,
    headers: string[],
    framing: WireFraming,
    contentLength: number,
    upstreamCloses: boolean,
    endStream: boolean,
    grpcStatus: string | string[] | undefined,
  ): AnswerVerdict;
  /** The response ended; the attempt has given its connection back. */
  onUpstreamComplete(): void;
  /** A retriable answer has been dropped: try again. */
  retryAfterAnswer(): void;
  /** The attempt failed; `staleConnection`: a kept-alive connection the server had closed. */
  onUpstreamFailure(kind: AttemptFailure, staleConnection: boolean): void;
  /** Whether the downstream codec can carry an upgraded (101) connection. */
  canUpgrade(): boolean;
  /** The upstream switched protocols: the router lets go of the attempt. */
  onUpstreamUpgraded(): void;
}
