// HTTP/2 wire constants (RFC 9113): frame types, flags, settings, error codes, and the proxy's own limits.

export const FRAME_HEADER = 9;

export const DATA = 0x0;
export const HEADERS = 0x1;
export const PRIORITY = 0x2;
export const RST_STREAM = 0x3;
export const SETTINGS = 0x4;
export const PUSH_PROMISE = 0x5;
export const PING = 0x6;
export const GOAWAY = 0x7;
export const WINDOW_UPDATE = 0x8;
export const CONTINUATION = 0x9;

export const FLAG_END_STREAM = 0x1;
export const FLAG_ACK = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;

export const SETTINGS_HEADER_TABLE_SIZE = 0x1;
export const SETTINGS_ENABLE_PUSH = 0x2;
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
export const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
export const SETTINGS_MAX_FRAME_SIZE = 0x5;
export const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

export const NO_ERROR = 0x0;
export const PROTOCOL_ERROR = 0x1;
export const INTERNAL_ERROR = 0x2;
export const FLOW_CONTROL_ERROR = 0x3;
export const STREAM_CLOSED = 0x5;
export const FRAME_SIZE_ERROR = 0x6;
export const REFUSED_STREAM = 0x7;
export const CANCEL = 0x8;
export const COMPRESSION_ERROR = 0x9;
export const ENHANCE_YOUR_CALM = 0xb;

/** The protocol's default window, frame size and largest window. */
export const DEFAULT_WINDOW = 65535;
export const DEFAULT_MAX_FRAME = 16384;
export const MAX_WINDOW = 2 ** 31 - 1;

/** Our receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE) and per connection (Envoy's defaults are larger; these bound what one slow reader holds). */
export const STREAM_WINDOW = 1 << 20;
export const CONNECTION_WINDOW = 16 * 1024 * 1024;
/** Streams a peer may open at once on a downstream connection. */
export const MAX_CONCURRENT_STREAMS = 1000;
/**
 * A header list is capped as Envoy's max_request_headers_kb (60 KiB) and max_headers_count (100,
 * plus the pseudo-headers); a header block (HEADERS + CONTINUATION) larger than twice that ends the
 * connection before it is decoded (a CONTINUATION flood).
 */
export const MAX_HEADER_LIST_SIZE = 60 * 1024;
export const MAX_HEADER_FIELDS = 104;
/** Consecutive empty DATA frames (without END_STREAM) a peer may send (Envoy's default). */
export const MAX_EMPTY_FRAMES = 1;
export const MAX_HEADER_BLOCK = 2 * MAX_HEADER_LIST_SIZE;
/**
 * Control frames (SETTINGS and PING acks, RST_STREAM) queued for a peer that does not read them:
 * beyond this the connection ends with ENHANCE_YOUR_CALM (SETTINGS / PING / RST floods), as
 * nghttp2's and Envoy's outbound control frame limits.
 */
export const MAX_QUEUED_CONTROL = 1000;

/** Connection-specific fields, malformed in HTTP/2 (RFC 9113 8.2.2). */
export const HOP_BY_HOP_H2 = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/** Response bytes a downstream connection may hold for a slow client before it refuses new streams. */
export const MAX_SESSION_BUFFER = 64 * 1024 * 1024;
