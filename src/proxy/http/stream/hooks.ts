// The lifecycle hook points of an HTTP stream, for telemetry and hardening that watch every request.
import type { ResponseFlag } from '../../common/response-flags.ts';
import type { HttpStream } from './http-stream.ts';

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
  requestHeaders?(stream: HttpStream): void;
  /** Request body bytes (as the codec delivered them; chunk framing may still be on them). */
  requestData?(stream: HttpStream, bytes: number): void;
  /** The request is complete (body and trailers in). */
  requestComplete?(stream: HttpStream): void;
  /** The response head is about to be written (after route and filter changes); `headers` is mutable. */
  responseHeaders?(stream: HttpStream, status: number, headers: string[]): void;
  /** Response body bytes written to the client. */
  responseData?(stream: HttpStream, bytes: number): void;
  /**
   * The stream ended: `reset` false when the response completed (a local reply included), true when
   * it was cut (client gone, upstream reset mid-response, timeout after the head). `flag` is the
   * Envoy response flag, if any.
   */
  complete?(stream: HttpStream, reset: boolean, flag: ResponseFlag | undefined): void;
}
