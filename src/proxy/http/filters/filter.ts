// The HTTP filter shape (Envoy's): config parsed once per listener, one filter instance per stream.
import type { Msg } from '../../common/fields.ts';
import type { ResponseFlag } from '../../common/response-flags.ts';
import type { RequestHead } from '../request-head.ts';

/** What a filter tells the manager after a step (Envoy's FilterHeadersStatus). */
export type FilterStatus =
  /** Go on to the next filter. */
  | 'Continue'
  /** Hold the request here; the filter calls `stream.continueDecoding()` later or sends a local reply. */
  | 'StopIteration';

/** What a filter may do to the stream it runs on. */
export interface FilterStream {
  readonly head: RequestHead;
  /** Answers the request locally (e.g. 403 from authz); later filters and the router do not run. */
  sendLocalReply(status: number, body: string, flag: ResponseFlag | undefined, headers?: string[]): void;
  /** Resumes a stream stopped with StopIteration. */
  continueDecoding(): void;
  /** Response headers the filters add (applied when the response head is written). */
  addResponseHeader(name: string, value: string): void;
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
  createFilter(): HttpFilter;
}

/** Parses a filter's typed_config (rejecting unsupported fields with UnsupportedFieldError). */
export interface HttpFilterFactory {
  /** The Envoy type URL of the filter's config message. */
  readonly typeUrl: string;
  /** The router ends the chain; it is built into the connection manager. */
  readonly terminal: boolean;
  parse(name: string, config: Msg, where: string): HttpFilterConfig | undefined;
}
