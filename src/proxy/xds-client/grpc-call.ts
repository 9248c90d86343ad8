// One gRPC bidirectional-streaming call on its own h2c session (node:http2): framing, keepalive PINGs, status from trailers.
import http2 from 'node:http2';
import net from 'node:net';
import tls, { type PeerCertificate } from 'node:tls';
import { encodeGrpcMessage, GrpcMessageReader } from '../../xds/grpc-frame.ts';
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

/** Stream window of 1 MiB and a 16 MiB connection window: a large first snapshot arrives without stalls. */
const STREAM_WINDOW = 1 << 20;
const SESSION_WINDOW = 16 << 20;

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

function headerString(value: string | string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value[0] : String(value);
}

export class GrpcBidiCall {
  private readonly config: GrpcCallConfig;
  private readonly onMessage: (message: Buffer) => void;
  private readonly onEnd: (end: GrpcCallEnd) => void;
  private readonly session: http2.ClientHttp2Session;
  private readonly stream: http2.ClientHttp2Stream;
  private readonly reader: GrpcMessageReader;
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
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || (config.tls ? 443 : 80));
    const secure = config.tls;
    this.session = http2.connect(url, {
      settings: { initialWindowSize: STREAM_WINDOW, enablePush: false },
      // Nagle off: each ACK is a small message that should not wait for the server's delayed ACK.
      createConnection: () =>
        secure
          ? tls
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
              .setNoDelay(true)
          : net.connect({ host, port, noDelay: true }),
    });
    this.session.on('connect', () => {
      // The call may have ended between the socket connecting and this event.
      if (this.ended || this.session.destroyed) return;
      this.session.setLocalWindowSize(SESSION_WINDOW);
      this.keepalive = setInterval(() => this.ping(), config.keepaliveIntervalMs);
      this.keepalive.unref();
    });
    this.session.on('error', (err: Error) =>
      this.finish({ code: GRPC_STATUS.unavailable, details: err.message, source: 'client' }),
    );
    this.session.on('close', () =>
      this.finish(
        this.status ?? { code: GRPC_STATUS.unavailable, details: 'connection closed', source: 'client' },
      ),
    );
    this.stream = this.session.request({
      ':method': 'POST',
      ':path': config.path,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-accept-encoding': 'identity',
      'user-agent': 'weft-proxy',
    });
    this.stream.on('response', (headers) => {
      this.httpStatus = Number(headers[':status'] ?? 0);
      // Trailers-only response: the status comes with the headers.
      this.takeStatus(headers);
      const contentType = headerString(headers['content-type']) ?? '';
      if (this.httpStatus === 200 && !this.status && !contentType.startsWith('application/grpc'))
        this.fail(GRPC_STATUS.unknown, `the response is not gRPC (content-type ${contentType || 'missing'})`);
    });
    this.stream.on('trailers', (trailers) => this.takeStatus(trailers));
    this.stream.on('data', (chunk: Buffer) => this.onData(chunk));
    this.stream.on('error', () => {
      // The reason is read in 'close' (status, HTTP status, RST_STREAM code).
    });
    // The response is complete when its readable side ends (the trailers came), even while this
    // side is still open: a gRPC client does not wait for its own half-close.
    this.stream.on('end', () => this.onStreamClose());
    this.stream.on('close', () => this.onStreamClose());
  }

  /** Sends one message (ignored once the call ended). */
  write(message: Uint8Array): void {
    if (this.ended || this.stream.destroyed) return;
    this.stream.write(encodeGrpcMessage(message));
  }

  /** Ends the call from this side (RST_STREAM CANCEL) and closes its connection; `onEnd` is not called. */
  cancel(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopTimers();
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.session.destroy();
  }

  private takeStatus(headers: http2.IncomingHttpHeaders): void {
    const code = headerString(headers['grpc-status']);
    if (code === undefined) return;
    const parsed = Number(code);
    this.status = {
      code: Number.isInteger(parsed) ? parsed : GRPC_STATUS.unknown,
      details: decodeGrpcMessage(headerString(headers['grpc-message']) ?? ''),
      source: 'server',
    };
  }

  private onData(chunk: Buffer): void {
    if (this.ended) return;
    if (this.httpStatus !== 200) return; // not a gRPC body; the HTTP status says why at the end
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

  private onStreamClose(): void {
    const rst = this.stream.rstCode ?? 0;
    if (this.status && this.status.code === GRPC_STATUS.ok && this.reader.pending > 0)
      this.fail(GRPC_STATUS.internal, 'the response ended inside a message');
    else if (this.status) this.finish(this.status);
    else if (this.httpStatus !== 0 && this.httpStatus !== 200)
      this.finish({
        code: codeOfHttpStatus(this.httpStatus),
        details: `HTTP status ${this.httpStatus}`,
        source: 'server',
      });
    else if (this.httpStatus === 0)
      // No response at all: the connection failed. The session's 'error' (ECONNREFUSED, ...) may
      // come just after the stream's 'close'; let it name the reason first.
      setImmediate(() =>
        this.finish({
          code: GRPC_STATUS.unavailable,
          details: `the connection closed before a response (RST_STREAM code ${rst})`,
          source: 'client',
        }),
      );
    else
      this.finish({
        code: GRPC_STATUS.internal,
        details: `RST_STREAM with code ${rst}; the call ended without a gRPC status`,
        source: 'client',
      });
  }

  /** Ends the call from this side for a reason of its own, and reports it. */
  private fail(code: number, details: string): void {
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.finish({ code, details, source: 'client' });
  }

  private finish(end: GrpcCallEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.stopTimers();
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.session.destroy();
    this.onEnd(end);
  }

  private ping(): void {
    if (this.ended || this.pingTimeout || this.session.destroyed) return;
    const timeoutMs = this.config.keepaliveTimeoutMs;
    this.pingTimeout = setTimeout(
      () => this.fail(GRPC_STATUS.unavailable, `keepalive PING not answered within ${timeoutMs} ms`),
      timeoutMs,
    );
    this.pingTimeout.unref();
    const sent = this.session.ping((err) => {
      clearTimeout(this.pingTimeout);
      this.pingTimeout = undefined;
      if (err) this.fail(GRPC_STATUS.unavailable, `keepalive PING failed: ${err.message}`);
    });
    if (!sent) {
      clearTimeout(this.pingTimeout);
      this.pingTimeout = undefined;
    }
  }

  private stopTimers(): void {
    clearInterval(this.keepalive);
    clearTimeout(this.pingTimeout);
    this.keepalive = undefined;
    this.pingTimeout = undefined;
  }
}
