// One gRPC bidirectional-streaming call on its own HTTP/2 connection (weft's codec, not node:http2): framing, keepalive PINGs, status from trailers.
import net from 'node:net';
import tls, { type PeerCertificate } from 'node:tls';
import { encodeGrpcMessage, GrpcMessageReader } from '../../xds/grpc-frame.ts';
import { H2ClientSession } from '../http/h2/client-session.ts';
import { CANCEL } from '../http/h2/frames.ts';
import type { H2Stream, H2StreamHandler } from '../http/h2/stream.ts';
import { alpnProtocols } from '../tls/alpn.ts';

/** The gRPC status codes this client produces or names. */
export const GRPC_STATUS = {
  ok: 0,
  cancelled: 1,
  unknown: 2,
  permissionDenied: 7,
  resourceExhausted: 8,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
  unauthenticated: 16,
} as const;

/** Settings of one call. */
export interface GrpcCallConfig {
  /** `host:port` of the server (plaintext HTTP/2, prior knowledge). */
  address: string;
  /** `/package.Service/Method`. */
  path: string;
  /** Largest message accepted from the server; a larger one ends the call with RESOURCE_EXHAUSTED. */
  maxMessageBytes: number;
  /** An HTTP/2 PING is sent this often (ms) while the call is open. */
  keepaliveIntervalMs: number;
  /** A PING unanswered this long (ms) ends the call with UNAVAILABLE (the connection is presumed dead). */
  keepaliveTimeoutMs: number;
  /** mTLS toward the server (absent: plaintext h2c, for tests and a plaintext read-only port). */
  tls?: GrpcCallTls;
  /**
   * A message split across DATA frames is assembled in a buffer shared and reused by every call
   * (`GrpcMessageReader.read`): it is valid only during `onMessage`. For a caller that reads each
   * message at once and keeps nothing that points into it (the scale benchmark's clients).
   */
  transientMessages?: boolean;
}

/** The client certificate to present and how the server must prove who it is. */
export interface GrpcCallTls {
  /** PEM key, chain and trust bundle (read at each connect, so a rotated certificate is used). */
  key: string;
  cert: string;
  ca: string;
  /** The server's certificate must chain to `ca` and pass this check (e.g. a pinned SPIFFE ID). */
  checkServerIdentity: (hostname: string, cert: PeerCertificate) => Error | undefined;
}

/** How a call ended: the server's grpc-status and grpc-message, or the client's reason in the same form. */
export interface GrpcCallEnd {
  code: number;
  details: string;
  /** `server`: from the response (trailers, or an HTTP status); `client`: this side ended it (limit, framing, keepalive, transport). */
  source: 'server' | 'client';
}

/** The gRPC code for a response that ended without grpc-status, from its HTTP status (gRPC's HTTP mapping). */
function codeOfHttpStatus(status: number): number {
  if (status === 400) return GRPC_STATUS.internal;
  if (status === 401) return GRPC_STATUS.unauthenticated;
  if (status === 403) return GRPC_STATUS.permissionDenied;
  if (status === 404) return GRPC_STATUS.unimplemented;
  if (status === 429 || status === 502 || status === 503 || status === 504) return GRPC_STATUS.unavailable;
  return GRPC_STATUS.unknown;
}

/** grpc-message is percent-encoded; a malformed one is shown as sent. */
function decodeGrpcMessage(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The first value of `name` in a flat name/value list. */
function field(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

/**
 * The call, on the proxy's HTTP/2 client codec (src/proxy/http/h2): its windows (1 MiB per stream,
 * 16 MiB per connection) let a large first snapshot arrive without stalls. Not node:http2: it and an
 * nghttp2 session cost an idle sidecar ~1 MB (docs/design/sidecar-memory.md).
 */
export class GrpcBidiCall implements H2StreamHandler {
  private readonly config: GrpcCallConfig;
  private readonly onMessage: (message: Buffer) => void;
  private readonly onEnd: (end: GrpcCallEnd) => void;
  private readonly session: H2ClientSession;
  private readonly stream: H2Stream;
  private readonly reader: GrpcMessageReader;
  /** Why the socket failed (ECONNREFUSED, a certificate error, ...), for the status of a call that got no response. */
  private socketError: string | undefined;
  private httpStatus = 0;
  private status: GrpcCallEnd | undefined;
  private ended = false;
  private keepalive: NodeJS.Timeout | undefined;
  private pingTimeout: NodeJS.Timeout | undefined;

  /** Opens the connection and the stream; `onMessage` gets each message, `onEnd` is called once (never after `cancel`). */
  constructor(
    config: GrpcCallConfig,
    onMessage: (message: Buffer) => void,
    onEnd: (end: GrpcCallEnd) => void,
  ) {
    this.config = config;
    this.onMessage = onMessage;
    this.onEnd = onEnd;
    this.reader = new GrpcMessageReader(config.maxMessageBytes);
    const url = new URL(`${config.tls ? 'https' : 'http'}://${config.address}`);
    const socket = connect(url, config.tls);
    socket.on('error', (err: Error) => {
      this.socketError ??= err.message;
    });
    const ready = config.tls ? 'secureConnect' : 'connect';
    socket.once(ready, () => {
      // The call may have ended between the start of the connection and this event.
      if (this.ended) return;
      this.keepalive = setInterval(() => this.ping(), config.keepaliveIntervalMs);
      this.keepalive.unref();
    });
    this.session = new H2ClientSession(
      socket,
      {
        streamClosed: () => {},
        sessionClosed: () =>
          this.finish({
            code: GRPC_STATUS.unavailable,
            details: this.socketError ?? 'connection closed',
            source: 'client',
          }),
        pingAcked: () => this.pingAcked(),
      },
      ready,
    );
    // Written once the socket connects.
    const head = [':method', 'POST', ':scheme', url.protocol.slice(0, -1), ':authority', url.host];
    head.push(':path', config.path, 'content-type', 'application/grpc', 'te', 'trailers');
    head.push('grpc-accept-encoding', 'identity', 'user-agent', 'weft-proxy');
    this.stream = this.session.request(head, false, this);
  }

  /** Sends one message (ignored once the call ended). */
  write(message: Uint8Array): void {
    if (this.ended || this.stream.closed) return;
    this.stream.write(encodeGrpcMessage(message));
  }

  /** Ends the call from this side (RST_STREAM CANCEL) and closes its connection; `onEnd` is not called. */
  cancel(): void {
    if (this.ended) return;
    this.ended = true;
    this.close();
  }

  onHeaders(_stream: H2Stream, headers: string[], endStream: boolean): void {
    if (this.ended) return;
    if (this.httpStatus === 0) {
      this.httpStatus = Number(headers[1]);
      // Trailers-only response: the status comes with the headers.
      this.takeStatus(headers);
      const contentType = field(headers, 'content-type') ?? '';
      if (this.httpStatus === 200 && !this.status && !contentType.startsWith('application/grpc'))
        this.fail(GRPC_STATUS.unknown, `the response is not gRPC (content-type ${contentType || 'missing'})`);
    } else this.takeStatus(headers);
    // The response is complete when it ends (the trailers came), even while this side is still
    // open: a gRPC client does not wait for its own half-close.
    if (endStream) this.responseEnded();
  }

  onData(_stream: H2Stream, chunk: Buffer, endStream: boolean): void {
    if (this.ended) return;
    // Not a gRPC body when the HTTP status is not 200: the status says why at the end.
    if (this.httpStatus === 200 && chunk.length > 0) this.readMessages(chunk);
    if (endStream) this.responseEnded();
  }

  onReset(_stream: H2Stream, code: number): void {
    if (this.ended) return;
    // The connection went under the stream (closed, failed to connect): UNAVAILABLE, with the reason.
    if (this.session.destroyed)
      this.finish({
        code: GRPC_STATUS.unavailable,
        details: this.socketError ?? 'connection closed',
        source: 'client',
      });
    else if (this.httpStatus === 0)
      this.finish({
        code: GRPC_STATUS.unavailable,
        details: `the server reset the stream before a response (RST_STREAM code ${code})`,
        source: 'client',
      });
    else
      this.finish({
        code: GRPC_STATUS.internal,
        details: `RST_STREAM with code ${code}; the call ended without a gRPC status`,
        source: 'client',
      });
  }

  onWritable(): void {
    // Messages are small and few (xDS requests and ACKs): they queue in the stream until window opens.
  }

  private takeStatus(headers: readonly string[]): void {
    const code = field(headers, 'grpc-status');
    if (code === undefined) return;
    const parsed = Number(code);
    this.status = {
      code: Number.isInteger(parsed) ? parsed : GRPC_STATUS.unknown,
      details: decodeGrpcMessage(field(headers, 'grpc-message') ?? ''),
      source: 'server',
    };
  }

  private readMessages(chunk: Buffer): void {
    const deliver = (message: Buffer) => {
      if (!this.ended) this.onMessage(message);
    };
    const refused = this.reader.read(chunk, deliver, this.config.transientMessages ?? false);
    if (refused?.outcome === 'too-large') {
      const limit = this.config.maxMessageBytes;
      this.fail(
        GRPC_STATUS.resourceExhausted,
        `received message larger than max (${refused.length} vs. ${limit})`,
      );
    } else if (refused?.outcome === 'compressed') {
      this.fail(GRPC_STATUS.internal, 'received a compressed message; no compression was negotiated');
    }
  }

  /** The server ended the response (END_STREAM): the call's status. */
  private responseEnded(): void {
    if (this.ended) return;
    if (this.status && this.status.code === GRPC_STATUS.ok && this.reader.pending > 0)
      this.fail(GRPC_STATUS.internal, 'the response ended inside a message');
    else if (this.status) this.finish(this.status);
    else if (this.httpStatus !== 200)
      this.finish({
        code: codeOfHttpStatus(this.httpStatus),
        details: `HTTP status ${this.httpStatus}`,
        source: 'server',
      });
    else
      this.finish({
        code: GRPC_STATUS.internal,
        details: 'the response ended without a gRPC status',
        source: 'client',
      });
  }

  /** Ends the call from this side for a reason of its own, and reports it. */
  private fail(code: number, details: string): void {
    this.finish({ code, details, source: 'client' });
  }

  private finish(end: GrpcCallEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.close();
    this.onEnd(end);
  }

  /** Resets the stream (RST_STREAM CANCEL, as grpc-js cancels) and closes the connection (GOAWAY once connected). */
  private close(): void {
    this.stopTimers();
    this.stream.reset(CANCEL);
    if (this.session.connected) this.session.close();
    else this.session.destroy();
  }

  private ping(): void {
    if (this.ended || this.pingTimeout || this.session.destroyed) return;
    const timeoutMs = this.config.keepaliveTimeoutMs;
    this.pingTimeout = setTimeout(
      () => this.fail(GRPC_STATUS.unavailable, `keepalive PING not answered within ${timeoutMs} ms`),
      timeoutMs,
    );
    this.pingTimeout.unref();
    this.session.ping();
  }

  private pingAcked(): void {
    clearTimeout(this.pingTimeout);
    this.pingTimeout = undefined;
  }

  private stopTimers(): void {
    clearInterval(this.keepalive);
    clearTimeout(this.pingTimeout);
    this.keepalive = undefined;
    this.pingTimeout = undefined;
  }
}

/** The connection to the server: TLS 1.3 with h2 by ALPN, or plaintext h2c (prior knowledge). Nagle off: each ACK is a small message that should not wait for the server's delayed ACK. */
function connect(url: URL, secure: GrpcCallTls | undefined): net.Socket {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (secure ? 443 : 80));
  if (!secure) return net.connect({ host, port, noDelay: true });
  return tls
    .connect({
      host,
      port,
      key: secure.key,
      cert: secure.cert,
      ca: secure.ca,
      ALPNProtocols: alpnProtocols(['h2']),
      minVersion: 'TLSv1.3',
      rejectUnauthorized: true,
      checkServerIdentity: secure.checkServerIdentity,
    })
    .setNoDelay(true);
}
