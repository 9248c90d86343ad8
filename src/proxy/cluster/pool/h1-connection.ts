// One HTTP/1.1 connection to an upstream host: writes a request, parses the response off the socket.
import net from 'node:net';
import { truncate } from '../../common/flat-list.ts';
import { canReadInto, readInto } from '../../common/user-read-buffer.ts';
import { BodyReader, HeadInfo, parseResponseHead } from '../../http/h1/parser.ts';
import type { UpstreamTls } from '../../tls/upstream.ts';

/** Why an upstream exchange failed. */
export type UpstreamFailure =
  | 'connect_failure'
  | 'connect_timeout'
  | 'reset_before_response'
  | 'reset'
  | 'protocol_error';

/** The party an upstream connection reports the response to (one exchange at a time). */
export interface H1ResponseHandler {
  /** The pool gave this exchange `conn` (it may still be connecting). */
  onUpstreamAssigned(conn: H1Connection): void;
  /** The connection is ready for the request head (fresh connect or taken from the pool). */
  onUpstreamReady(conn: H1Connection): void;
  /** A 1xx other than 101 arrived (forwarded or swallowed by the handler). */
  onUpstreamInformational(conn: H1Connection, info: HeadInfo, headers: string[]): void;
  /** The bytes of one socket read have all been handed over (a moment to flush held writes). */
  onUpstreamFlush(conn: H1Connection): void;
  /**
   * The final response head; `conn.reader` is set up for the body. `headers` is the connection's
   * own list, emptied for its next response: copy it if it must outlive this exchange.
   */
  onUpstreamHead(conn: H1Connection, info: HeadInfo, headers: string[]): void;
  /**
   * Body bytes: raw (framing kept) or de-chunked, as the handler chose with `decode`. The bytes
   * are lent: return true when they may still be referenced after the call (e.g. handed to a
   * socket write); false when they were copied or dropped, so the read buffer can be reused.
   * `borrowed`: they are in the buffer every connection reads into, overwritten by the next read:
   * what outlives the call must be copied (and then false returned).
   */
  onUpstreamBody(conn: H1Connection, chunk: Buffer, borrowed: boolean): boolean;
  /** The response body ended; `trailers` are raw trailer lines of a chunked body. */
  onUpstreamEnd(conn: H1Connection, trailers: string): void;
  /** 101 Switching Protocols: from now on the socket is a tunnel; `rest` is data after the head. */
  onUpstreamUpgrade(conn: H1Connection, info: HeadInfo, headers: string[], rest: Buffer): void;
  onUpstreamFailure(conn: H1Connection, failure: UpstreamFailure, detail: string): void;
}

/** Callbacks from a connection to the pool that owns it. */
export interface H1ConnectionOwner {
  connectionClosed(conn: H1Connection): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * One read buffer shared by every upstream connection of the process (reads are handled one at a
 * time, synchronously) for the read that starts a response. Node keeps, per connection, where its
 * next read goes, so no byte in it may outlive its read: body bytes read into it are copied before
 * a handler gets them. The rest of a response that takes several reads goes to the connection's
 * own buffer, whose bytes a handler may keep (lend to a socket write).
 */
const READ_BUFFER_SIZE = 64 * 1024;
const sharedReadBuffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
/**
 * Where TLS connections read once connected (Node's `onread` mode, adopted): each read (at most 16
 * KiB) is copied at once, as a write to a TLS socket can deliver another read before the first is
 * handled. Saves the per-read ArrayBuffer and the Readable stream's work.
 */
const tlsReadBuffer = Buffer.allocUnsafe(16 * 1024);

/** How a connection receives bytes: straight into the shared buffer, or as stream 'data' events (tunnels). */
export type ReadMode = 'shared-buffer' | 'stream';

export class H1Connection {
  readonly socket: net.Socket;
  private readonly owner: H1ConnectionOwner;
  handler: H1ResponseHandler | null = null;
  /** connecting → idle/busy → closed. */
  state: 'connecting' | 'idle' | 'busy' | 'tunnel' | 'closed' = 'connecting';
  /** Requests completed on this connection. */
  served = 0;
  /** The request in flight was a HEAD (its response has no body). */
  headRequest = false;
  /** De-chunk response bodies for the current handler. */
  decode = false;
  /** Bytes of the response seen for the current exchange (0 = none yet). */
  responseBytes = 0;
  /** The server asked to close (or the response was close-delimited). */
  closeAfter = false;
  readonly info = new HeadInfo();
  headers: string[] = [];
  readonly reader = new BodyReader();
  private pending: Buffer = EMPTY;
  private phase: 'head' | 'body' = 'head';
  private connectTimer: NodeJS.Timeout | undefined;
  /** When the connection went back to the idle pool (performance.now()). */
  idleSince = 0;
  /** How bytes arrive (see ReadMode). */
  readonly mode: ReadMode;

  constructor(
    host: string,
    port: number,
    connectTimeoutMs: number,
    owner: H1ConnectionOwner,
    mode: ReadMode = 'shared-buffer',
    transport?: UpstreamTls,
  ) {
    this.owner = owner;
    this.mode = mode;
    // The shared-buffer mode skips the stream machinery per read; a connection that may become a
    // tunnel (an upgrade request) keeps ordinary 'data' events so that it can be piped. TLS
    // connections are ready once the handshake has verified the server, and only then switch to
    // tlsReadBuffer (Node's `onread` option exists for plaintext sockets only).
    this.socket = transport
      ? transport.connect(host, port, 'http/1.1')
      : mode === 'shared-buffer'
        ? net.connect({
            host,
            port,
            noDelay: true,
            onread: { buffer: this.nextReadBuffer, callback: this.onRead },
          })
        : net.connect({ host, port, noDelay: true });
    this.socket.on(
      transport ? 'secureConnect' : 'connect',
      transport ? this.onSecureConnect : this.onConnect,
    );
    if (mode === 'stream' || transport) this.socket.on('data', this.onData);
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
    this.socket.on('end', this.onEnd);
    if (connectTimeoutMs > 0)
      this.connectTimer = setTimeout(() => this.fail('connect_timeout', 'connect timeout'), connectTimeoutMs);
  }

  /** Attaches an exchange. For a connected idle connection the handler is told at once. */
  attach(handler: H1ResponseHandler, headRequest: boolean, decode: boolean): void {
    this.handler = handler;
    this.headRequest = headRequest;
    this.decode = decode;
    this.responseBytes = 0;
    this.phase = 'head';
    // (The header list is replaced when the response head is parsed.)
    this.info.reset();
    handler.onUpstreamAssigned(this);
    if (this.state === 'idle') {
      this.state = 'busy';
      handler.onUpstreamReady(this);
    }
  }

  /** Detaches the handler; the caller then returns the connection to the pool or destroys it. */
  detach(): void {
    this.handler = null;
  }

  /** True when the connection may carry another request. */
  get reusable(): boolean {
    return this.state === 'busy' && !this.closeAfter && this.phase === 'head' && this.pending.length === 0;
  }

  destroy(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.handler = null;
    this.socket.destroy();
  }

  private readonly onConnect = (): void => {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    if (this.state !== 'connecting') return;
    this.state = this.handler ? 'busy' : 'idle';
    this.handler?.onUpstreamReady(this);
  };

  /** A TLS connection's handshake verified the server: reads go to tlsReadBuffer unless it may become a tunnel. */
  private readonly onSecureConnect = (): void => {
    const socket = this.socket;
    if (this.mode === 'shared-buffer' && socket.readableLength === 0 && canReadInto(socket)) {
      socket.off('data', this.onData);
      readInto(socket, tlsReadBuffer, this.onTlsRead, null);
    }
    this.onConnect();
  };

  private readonly onTlsRead = (nread: number, buf: Buffer): boolean => {
    this.onData(Buffer.from(buf.subarray(0, nread)));
    return true;
  };

  private readonly onData = (chunk: Buffer): void => {
    this.transient = false;
    this.read(chunk);
    this.handler?.onUpstreamFlush(this);
  };

  /** Set when a handler kept bytes of the read being handled. */
  private lent = false;
  /** The read being handled is in the shared buffer: handlers get its body bytes borrowed. */
  private transient = false;
  /** Where the rest of a response under way is read (null: allocated when needed). */
  private own: Buffer | null = null;

  /** Where the next read goes: a response under way reads on into this connection's own buffer. */
  private readonly nextReadBuffer = (): Buffer => {
    if (this.phase !== 'body') {
      this.own = null;
      return sharedReadBuffer;
    }
    this.own ??= Buffer.allocUnsafe(READ_BUFFER_SIZE);
    return this.own;
  };

  private readonly onRead = (nread: number, buf: Buffer): boolean => {
    this.lent = false;
    this.transient = buf === sharedReadBuffer;
    this.read(buf.subarray(0, nread));
    this.handler?.onUpstreamFlush(this);
    // A handler keeps bytes of the own buffer: the next read goes to a new one.
    if (this.lent && buf === this.own) this.own = null;
    return true;
  };

  private read(chunk: Buffer): void {
    this.responseBytes += chunk.length;
    const handler = this.handler;
    if (this.state === 'tunnel') return; // tunnel owners replace this listener
    if (!handler) {
      // Bytes on an idle connection: the server is misbehaving; do not reuse it.
      this.destroy();
      return;
    }
    let buf = chunk;
    let off = 0;
    while (off < buf.length || this.phase === 'head') {
      if (this.phase === 'head') {
        if (this.pending.length > 0) {
          buf = Buffer.concat([this.pending, off === 0 ? buf : buf.subarray(off)]);
          off = 0;
          this.pending = EMPTY;
        } else if (off > 0) {
          buf = buf.subarray(off);
          off = 0;
        }
        if (buf.length === 0) return;
        // Emptied in place (handlers use the list only during their callbacks): one array object fewer per response.
        truncate(this.headers, 0);
        this.info.reset();
        const outcome = parseResponseHead(buf, this.headers, this.info);
        if (outcome === 'incomplete') {
          // Keep a copy: `buf` may be the shared read buffer.
          this.pending = Buffer.from(buf);
          return;
        }
        if (outcome !== 'complete') {
          this.fail('protocol_error', this.info.error || 'response head too large');
          return;
        }
        off = this.info.headLength;
        const status = this.info.status;
        if (status === 101 && this.mode === 'shared-buffer') {
          this.fail('protocol_error', 'unexpected 101 Switching Protocols');
          return;
        }
        if (status === 101) {
          this.state = 'tunnel';
          this.socket.removeListener('data', this.onData);
          handler.onUpstreamUpgrade(this, this.info, this.headers, buf.subarray(off));
          return;
        }
        if (status < 200) {
          handler.onUpstreamInformational(this, this.info, this.headers);
          if (this.handler !== handler) return;
          continue;
        }
        const framing = this.headRequest || status === 204 || status === 304 ? 'none' : this.info.framing;
        if (framing === 'eof' || this.info.close) this.closeAfter = true;
        this.reader.start(framing, this.info.contentLength, this.decode);
        this.phase = 'body';
        handler.onUpstreamHead(this, this.info, this.headers);
        if (this.handler !== handler) return;
        if (this.reader.done) {
          this.finish(handler, buf.length > off);
          return;
        }
        continue;
      }
      const n = this.reader.read(buf, off);
      if (n < 0) {
        this.fail('protocol_error', this.reader.error);
        return;
      }
      if (n > 0) {
        if (this.decode && this.reader.framing === 'chunked') {
          const parts = this.reader.decoded;
          for (let i = 0; i < parts.length; i++)
            if (handler.onUpstreamBody(this, parts[i], this.transient)) this.lent = true;
          parts.length = 0;
        } else if (
          handler.onUpstreamBody(
            this,
            off === 0 && n === buf.length ? buf : buf.subarray(off, off + n),
            this.transient,
          )
        )
          this.lent = true;
        if (this.handler !== handler) return;
      }
      off += n;
      if (this.reader.done) {
        this.finish(handler, off < buf.length);
        return;
      }
      if (off >= buf.length) return;
    }
  }

  private finish(handler: H1ResponseHandler, extraBytes: boolean): void {
    this.phase = 'head';
    this.served++;
    // Bytes after a complete response that nobody asked for: do not reuse the connection.
    if (extraBytes) this.closeAfter = true;
    handler.onUpstreamEnd(this, this.reader.trailers);
  }

  private fail(failure: UpstreamFailure, detail: string): void {
    if (this.state === 'closed') return;
    const handler = this.handler;
    this.destroy();
    if (handler) handler.onUpstreamFailure(this, failure, detail);
  }

  private readonly onError = (err: Error): void => {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (this.state === 'connecting') this.fail('connect_failure', code || err.message);
    else this.fail(this.responseBytes === 0 ? 'reset_before_response' : 'reset', code || err.message);
  };

  private readonly onEnd = (): void => {
    // Server half-closed: a close-delimited body ends here; otherwise it is a reset.
    if (this.state === 'tunnel') return;
    const handler = this.handler;
    if (handler && this.phase === 'body' && this.reader.framing === 'eof') {
      this.closeAfter = true;
      this.phase = 'head';
      this.served++;
      handler.onUpstreamEnd(this, '');
      return;
    }
    if (this.state === 'connecting') this.fail('connect_failure', 'connection closed');
    else if (handler)
      this.fail(this.responseBytes === 0 ? 'reset_before_response' : 'reset', 'connection closed');
    else this.destroy();
  };

  private readonly onClose = (): void => {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    const handler = this.handler;
    const wasConnecting = this.state === 'connecting';
    const wasTunnel = this.state === 'tunnel';
    this.state = 'closed';
    this.handler = null;
    this.owner.connectionClosed(this);
    if (handler && !wasTunnel)
      handler.onUpstreamFailure(
        this,
        wasConnecting ? 'connect_failure' : this.responseBytes === 0 ? 'reset_before_response' : 'reset',
        'connection closed',
      );
  };
}
