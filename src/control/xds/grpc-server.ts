// A gRPC server for streaming methods on node:http2: message framing without copies, status trailers, keepalive, write backpressure, mTLS.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { PeerCertificate, SecureContextOptions, TLSSocket } from 'node:tls';
import { GRPC_PREFIX_BYTES, GrpcMessageReader } from '../../xds/grpc-frame.ts';

/** The gRPC status codes this server sends. */
export const GRPC_STATUS = {
  ok: 0,
  cancelled: 1,
  invalidArgument: 3,
  deadlineExceeded: 4,
  permissionDenied: 7,
  resourceExhausted: 8,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
} as const;

/** What a method does with one call: its messages, the client's half-close, the end, and room to write again. */
export interface GrpcCallHandlers {
  /**
   * One request message (uncompressed, whole). The buffer may be reused once this returns
   * (a message split across DATA frames is assembled in a shared buffer): copy what is kept.
   */
  message(bytes: Buffer): void;
  /** The client closed its side (no more messages). */
  halfClose(): void;
  /** The call ended, for any reason (called once, also after `end`). */
  close(): void;
  /** The bytes queued on a congested call were written down to below the limit. */
  drain(): void;
}

/** A streaming method: called once per call, returns the call's handlers. */
export type GrpcMethod = (call: GrpcServerCall) => GrpcCallHandlers;

/** Settings of `GrpcServer`. */
export interface GrpcServerConfig {
  /** `/package.Service/Method` → the method. Other paths are answered UNIMPLEMENTED. */
  methods: ReadonlyMap<string, GrpcMethod>;
  /** Largest request message accepted; larger ends the call with RESOURCE_EXHAUSTED (gRPC's default: 4 MiB). */
  maxReceiveMessageBytes?: number;
  /** A PING is sent on each connection this often (ms). */
  keepaliveTimeMs?: number;
  /** A connection on which nothing (no PING ACK, no frame) arrived this long after a PING is closed (ms). */
  keepaliveTimeoutMs?: number;
  /** A call with this many bytes written but not yet taken by the connection is congested (see `GrpcServerCall.congested`). */
  queueLimitBytes?: number;
}

/** The certificate of a TLS listener, replaceable while serving (new connections get the new one). */
export interface ServerTlsSource {
  current(): SecureContextOptions;
  /** Calls `listener` with each new context. */
  onUpdate(listener: (context: SecureContextOptions) => void): void;
}

const DEFAULTS = {
  maxReceiveMessageBytes: 4 << 20,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 20_000,
  queueLimitBytes: 1 << 20,
};
/** Receive windows: an ACK repeating thousands of names arrives without waiting for WINDOW_UPDATEs. */
const STREAM_WINDOW = 1 << 20;
const SESSION_WINDOW = 8 << 20;
/** How long `close` waits for connections to take their GOAWAY and status before cutting them. */
const CLOSE_GRACE_MS = 1000;
const CONTENT_TYPE = 'application/grpc+proto';

/** Per-connection state: whether the client has shown life since the last PING. */
interface SessionState {
  /** Frames (DATA, PING) received; compared across a PING. */
  activity: number;
  peer: string;
  peerCertificate?: PeerCertificate;
  calls: Set<GrpcServerCall>;
}

/** grpc-message is percent-encoded: bytes outside printable ASCII, and `%`. */
function encodeGrpcMessage(text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x7e]+/gu, (run) =>
    [...Buffer.from(run, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

const TIMEOUT_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** `grpc-timeout` (`1-8 digits` + unit) in ms; undefined when absent, NaN when malformed. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  return match ? Number(match[1]) * TIMEOUT_UNITS[match[2]] : Number.NaN;
}

/** The 5-byte prefix of each response written, kept per shared response buffer (one for all streams). */
const prefixes = new WeakMap<Buffer, Buffer>();

function prefixOf(message: Buffer): Buffer {
  let prefix = prefixes.get(message);
  if (!prefix) {
    prefix = Buffer.allocUnsafe(GRPC_PREFIX_BYTES);
    prefix[0] = 0;
    prefix.writeUInt32BE(message.length, 1);
    prefixes.set(message, prefix);
  }
  return prefix;
}

/** One call: read by its handlers, written with `send`, ended with `end`. */
export class GrpcServerCall {
  /** `ip:port` (`[ip]:port` for IPv6) of the client. */
  readonly peer: string;
  /** The client's verified certificate on a mutual-TLS listener; undefined on a plaintext one. */
  readonly peerCertificate: PeerCertificate | undefined;
  /** Whether the call came over TLS. */
  readonly secure: boolean;
  readonly #stream: http2.ServerHttp2Stream;
  readonly #queueLimit: number;
  #handlers: GrpcCallHandlers | undefined;
  #queued = 0;
  #headersSent = false;
  #ended = false;
  #closed = false;
  #deadline: NodeJS.Timeout | undefined;

  constructor(stream: http2.ServerHttp2Stream, session: SessionState, secure: boolean, queueLimit: number) {
    this.#stream = stream;
    this.peer = session.peer;
    this.peerCertificate = session.peerCertificate;
    this.secure = secure;
    this.#queueLimit = queueLimit;
  }

  /** Bytes written and not yet taken by the connection (flow control holds them while the client does not read). */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** At or over the queue limit: a writer should hold further messages until `drain` (and then send the latest). */
  get congested(): boolean {
    return this.#queued >= this.#queueLimit;
  }

  /** Whether the call has ended (no more messages can be sent). */
  get ended(): boolean {
    return this.#ended || this.#stream.destroyed;
  }

  /**
   * Writes one encoded message. The buffer is written as it is, after a 5-byte prefix: a response
   * shared by many streams is never copied per stream (it must not be modified afterwards).
   */
  send(message: Buffer): void {
    if (this.ended) return;
    this.#sendHeaders();
    const size = message.length + GRPC_PREFIX_BYTES;
    this.#queued += size;
    const stream = this.#stream;
    stream.cork();
    stream.write(prefixOf(message));
    stream.write(message, () => this.#written(size));
    stream.uncork();
  }

  /** Ends the call with a status (trailers, or a trailers-only response before any message). */
  end(code: number = GRPC_STATUS.ok, details = ''): void {
    if (this.#ended) return;
    this.#ended = true;
    const stream = this.#stream;
    if (!stream.destroyed && !stream.closed) {
      const trailers: http2.OutgoingHttpHeaders = { 'grpc-status': String(code) };
      if (details) trailers['grpc-message'] = encodeGrpcMessage(details);
      if (this.#headersSent) {
        stream.once('wantTrailers', () => stream.sendTrailers(trailers));
        stream.end();
      } else {
        this.#headersSent = true;
        stream.respond({ ':status': 200, 'content-type': CONTENT_TYPE, ...trailers }, { endStream: true });
      }
      // A client that neither reads on nor closes its side is cut, so the stream cannot outlive the call.
      setTimeout(() => {
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
      }, CLOSE_GRACE_MS).unref();
    }
    this.#finish();
  }

  /** Wires the stream to `handlers`; `deadlineMs` from the client's grpc-timeout. */
  start(handlers: GrpcCallHandlers, maxMessageBytes: number, deadlineMs: number | undefined): void {
    this.#handlers = handlers;
    const stream = this.#stream;
    const reader = new GrpcMessageReader(maxMessageBytes);
    stream.on('data', (chunk: Buffer) => {
      if (this.#ended) return;
      const refused = reader.read(chunk, (message) => {
        if (!this.#ended) handlers.message(message);
      });
      if (refused?.outcome === 'too-large')
        this.end(
          GRPC_STATUS.resourceExhausted,
          `received message larger than max (${refused.length} vs. ${maxMessageBytes})`,
        );
      else if (refused?.outcome === 'compressed')
        this.end(GRPC_STATUS.internal, 'received a compressed message, but no compression was negotiated');
    });
    stream.on('end', () => {
      if (this.#ended) return;
      if (reader.pending > 0) this.end(GRPC_STATUS.internal, 'the request ended inside a message');
      else handlers.halfClose();
    });
    stream.on('close', () => this.#finish());
    if (deadlineMs !== undefined) {
      this.#deadline = setTimeout(
        () => this.end(GRPC_STATUS.deadlineExceeded, 'deadline exceeded'),
        deadlineMs,
      );
      this.#deadline.unref();
    }
  }

  #sendHeaders(): void {
    if (this.#headersSent) return;
    this.#headersSent = true;
    this.#stream.respond(
      { ':status': 200, 'content-type': CONTENT_TYPE, 'grpc-accept-encoding': 'identity' },
      { waitForTrailers: true },
    );
  }

  #written(size: number): void {
    const was = this.congested;
    this.#queued -= size;
    if (was && !this.congested && !this.ended) this.#handlers?.drain();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ended = true;
    clearTimeout(this.#deadline);
    this.#handlers?.close();
  }
}

/** Answers a request that is not a call this server takes: an HTTP status, or a gRPC trailers-only status. */
function refuse(stream: http2.ServerHttp2Stream, httpStatus: number, code: number, details: string): void {
  stream.on('error', () => {});
  if (stream.destroyed || stream.headersSent) return;
  stream.respond(
    {
      ':status': httpStatus,
      'content-type': CONTENT_TYPE,
      'grpc-status': String(code),
      'grpc-message': encodeGrpcMessage(details),
      'grpc-accept-encoding': 'identity',
    },
    { endStream: true },
  );
  stream.resume();
}

function peerOf(session: http2.ServerHttp2Session): string {
  const { remoteAddress = '', remotePort = 0 } = session.socket ?? {};
  return remoteAddress.includes(':') ? `[${remoteAddress}]:${remotePort}` : `${remoteAddress}:${remotePort}`;
}

/** gRPC streaming methods served on any number of listeners (plaintext h2c, or TLS with client certificates). */
export class GrpcServer {
  readonly #methods: ReadonlyMap<string, GrpcMethod>;
  readonly #config: Required<Omit<GrpcServerConfig, 'methods'>>;
  readonly #servers: (http2.Http2Server | http2.Http2SecureServer)[] = [];
  readonly #sessions = new Map<http2.ServerHttp2Session, SessionState>();
  #closed = false;

  constructor(config: GrpcServerConfig) {
    this.#methods = config.methods;
    this.#config = {
      maxReceiveMessageBytes: config.maxReceiveMessageBytes ?? DEFAULTS.maxReceiveMessageBytes,
      keepaliveTimeMs: config.keepaliveTimeMs ?? DEFAULTS.keepaliveTimeMs,
      keepaliveTimeoutMs: config.keepaliveTimeoutMs ?? DEFAULTS.keepaliveTimeoutMs,
      queueLimitBytes: config.queueLimitBytes ?? DEFAULTS.queueLimitBytes,
    };
  }

  /** Binds a listener: with `tls`, TLS 1.3 requiring a client certificate that chains to its `ca`; resolves to the port. */
  listen(host: string, port: number, tls?: ServerTlsSource): Promise<number> {
    const options: http2.ServerOptions = {
      settings: { initialWindowSize: STREAM_WINDOW },
      // Responses queued toward slow clients are the shared buffers (not copies): allow them.
      maxSessionMemory: 256,
    };
    const server = tls
      ? http2.createSecureServer({
          ...options,
          ...tls.current(),
          minVersion: 'TLSv1.3',
          requestCert: true,
          rejectUnauthorized: true,
          ALPNProtocols: ['h2'],
        })
      : http2.createServer(options);
    if (tls) {
      const secure = server as http2.Http2SecureServer;
      tls.onUpdate((context) => secure.setSecureContext({ ...context, minVersion: 'TLSv1.3' }));
    }
    server.on('session', (session) => this.#onSession(session, tls !== undefined));
    server.on('stream', (stream, headers) => this.#onStream(stream, headers, tls !== undefined));
    server.on('sessionError', () => {});
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops listening, ends every call with UNAVAILABLE after a GOAWAY, and closes the connections (cut after a grace period). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const server of this.#servers) server.close();
    const sessions = [...this.#sessions.keys()];
    for (const [session, state] of this.#sessions) {
      if (!session.destroyed) session.close();
      for (const call of state.calls) call.end(GRPC_STATUS.unavailable, 'the xDS server is shutting down');
    }
    await Promise.all(
      sessions.map(
        (session) =>
          new Promise<void>((resolve) => {
            if (session.destroyed) return resolve();
            const timer = setTimeout(() => session.destroy(), CLOSE_GRACE_MS);
            session.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
  }

  #onSession(session: http2.ServerHttp2Session, secure: boolean): void {
    if (this.#closed) {
      session.destroy();
      return;
    }
    const state: SessionState = { activity: 0, peer: peerOf(session), calls: new Set() };
    if (secure) {
      const cert = (session.socket as TLSSocket).getPeerCertificate();
      state.peerCertificate = cert && Object.keys(cert).length > 0 ? cert : undefined;
    }
    this.#sessions.set(session, state);
    session.on('error', () => {});
    session.on('ping', () => state.activity++);
    session.once('connect', () => {
      if (!session.destroyed) session.setLocalWindowSize(SESSION_WINDOW);
    });
    const keepalive = this.#keepalive(session, state);
    session.once('close', () => {
      clearTimeout(keepalive.timer);
      this.#sessions.delete(session);
    });
  }

  /**
   * A PING every keepaliveTimeMs; the connection is closed when, keepaliveTimeoutMs after one,
   * neither its ACK nor any other frame arrived (a client busy reading megabytes still sends).
   */
  #keepalive(session: http2.ServerHttp2Session, state: SessionState): { timer?: NodeJS.Timeout } {
    const { keepaliveTimeMs, keepaliveTimeoutMs } = this.#config;
    const handle: { timer?: NodeJS.Timeout } = {};
    const schedule = () => {
      handle.timer = setTimeout(ping, keepaliveTimeMs);
      handle.timer.unref();
    };
    const ping = () => {
      if (session.destroyed || session.closed) return;
      const before = state.activity;
      let answered = false;
      if (!session.ping(() => (answered = true))) return schedule();
      // Decided after the next poll: a loop that was blocked past the timeout reads the ACK first.
      const decide = () => {
        if (answered || state.activity !== before) schedule();
        else session.destroy();
      };
      handle.timer = setTimeout(() => setImmediate(decide), keepaliveTimeoutMs);
      handle.timer.unref();
    };
    schedule();
    return handle;
  }

  #onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, secure: boolean): void {
    const state = this.#sessions.get(stream.session as http2.ServerHttp2Session);
    const method = this.#methods.get(String(headers[':path']));
    const refusal = this.#refusal(headers, state !== undefined, method !== undefined);
    if (refusal || !state || !method) {
      const [httpStatus, code, details] = refusal ?? [200, GRPC_STATUS.internal, 'not served'];
      refuse(stream, httpStatus, code, details);
      return;
    }
    stream.on('error', () => {});
    stream.on('data', () => state.activity++);
    const call = new GrpcServerCall(stream, state, secure, this.#config.queueLimitBytes);
    state.calls.add(call);
    stream.once('close', () => state.calls.delete(call));
    const deadline = parseGrpcTimeout(headers['grpc-timeout'] as string | undefined);
    call.start(method(call), this.#config.maxReceiveMessageBytes, deadline);
  }

  /** Why a request is not a call this server takes (HTTP status, gRPC status, message); undefined when it is. */
  #refusal(
    headers: http2.IncomingHttpHeaders,
    open: boolean,
    known: boolean,
  ): [number, number, string] | undefined {
    if (!open || this.#closed) return [200, GRPC_STATUS.unavailable, 'the xDS server is shutting down'];
    if (headers[':method'] !== 'POST')
      return [405, GRPC_STATUS.internal, `gRPC requires POST, not ${headers[':method']}`];
    const contentType = String(headers['content-type'] ?? '');
    if (!contentType.startsWith('application/grpc'))
      return [415, GRPC_STATUS.internal, `content-type ${contentType || 'missing'} is not gRPC`];
    if (!known) return [200, GRPC_STATUS.unimplemented, `unknown method ${headers[':path']}`];
    const encoding = headers['grpc-encoding'];
    if (encoding !== undefined && encoding !== 'identity')
      return [
        200,
        GRPC_STATUS.unimplemented,
        `message encoding ${encoding} is not supported (only identity)`,
      ];
    if (Number.isNaN(parseGrpcTimeout(headers['grpc-timeout'] as string | undefined)))
      return [200, GRPC_STATUS.internal, `malformed grpc-timeout ${headers['grpc-timeout']}`];
    return undefined;
  }
}
