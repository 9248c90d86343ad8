// One attempt of a request on an HTTP/1.1 upstream connection: writes the request, reports the response.
import type { Cluster } from '../../cluster/cluster.ts';
import type { Host } from '../../cluster/host.ts';
import type { H1Connection, H1ResponseHandler, UpstreamFailure } from '../../cluster/pool/h1-connection.ts';
import type { H1Pool } from '../../cluster/pool/h1-pool.ts';
import { headerLinesLength, putHeaderLines, putLatin1 } from '../../common/latin1.ts';
import { type HeadInfo, parseTrailerLines } from '../h1/parser.ts';
import type { ActiveStream } from '../stream/stream-api.ts';
import type { AttemptOwner, UpstreamRequest } from './upstream.ts';

/** The fixed bytes of a request line between the path and the authority. */
const REQUEST_LINE_MIDDLE = ' HTTP/1.1\r\nhost: ';
const XFP_HTTP = 'x-forwarded-proto: http\r\n';
const XFP_HTTPS = 'x-forwarded-proto: https\r\n';
const CHUNKED_LINE = 'transfer-encoding: chunked\r\n';
const LAST_CHUNK = '0\r\n\r\n';

/** Reused by the router for each HTTP/1.1 attempt of each request of its stream (no allocation per request). */
export class H1Upstream implements H1ResponseHandler, UpstreamRequest {
  private readonly router: AttemptOwner;
  private readonly stream: ActiveStream;
  private conn: H1Connection | null = null;
  private pool: H1Pool | null = null;
  ready = false;
  /** The answer is being dropped for a retry. */
  private discarding = false;
  /** Chunk-encode the body (HTTP/2 DATA frames without a content-length). */
  private chunkEncode = false;

  constructor(router: AttemptOwner, stream: ActiveStream) {
    this.router = router;
    this.stream = stream;
  }

  /** Asks the host's pool for a connection; false when the pool overflows. */
  start(cluster: Cluster, host: Host): boolean {
    this.ready = false;
    this.discarding = false;
    this.conn = null;
    const pool = cluster.h1Pool(host);
    this.pool = pool;
    const s = this.stream;
    const outcome = pool.acquire(
      this,
      s.head.method === 'HEAD',
      s.codec.decodesResponseBody,
      s.upgrade !== '',
    );
    if (outcome === 'overflow') {
      this.pool = null;
      return false;
    }
    return true;
  }

  sendData(chunk: Buffer): boolean {
    const socket = this.conn!.socket;
    if (!this.chunkEncode) return socket.write(chunk);
    socket.write(`${chunk.length.toString(16)}\r\n`);
    socket.write(chunk);
    return socket.write('\r\n');
  }

  onceDrained(resume: () => void): void {
    this.conn?.socket.once('drain', resume);
  }

  endData(): void {
    if (this.chunkEncode && this.conn !== null) this.conn.socket.write(LAST_CHUNK);
  }

  cancel(): void {
    const conn = this.conn;
    this.conn = null;
    this.ready = false;
    if (conn !== null) this.pool?.release(conn, false);
    else this.pool?.cancel(this);
    this.pool = null;
  }

  /** Gives the connection back to its pool. */
  private finish(conn: H1Connection, reuse: boolean): void {
    this.conn = null;
    this.ready = false;
    this.pool?.release(conn, reuse);
    this.pool = null;
  }

  // ---- H1ResponseHandler ----

  onUpstreamAssigned(conn: H1Connection): void {
    this.conn = conn;
  }

  onUpstreamReady(conn: H1Connection): void {
    this.ready = true;
    const head = this.writeHead();
    const body = this.router.attemptReady();
    const socket = conn.socket;
    if (body.length === 0) socket.write(head);
    else {
      socket.cork();
      socket.write(head);
      for (let i = 0; i < body.length; i++) this.sendData(body[i]);
      socket.uncork();
    }
    this.router.bodyWritten(this);
  }

  /** The request head, written straight into one Buffer of its exact size (no intermediate strings). */
  private writeHead(): Buffer {
    const stream = this.stream;
    const head = stream.head;
    // `te` is hop-by-hop towards an HTTP/1.1 upstream of an HTTP/2 client.
    if (stream.framing === 'frames' || head.protocol === 'HTTP/2') head.remove('te');
    const xfp =
      head.get('x-forwarded-proto') !== undefined
        ? ''
        : head.scheme === 'http'
          ? XFP_HTTP
          : head.scheme === 'https'
            ? XFP_HTTPS
            : `x-forwarded-proto: ${head.scheme}\r\n`;
    this.chunkEncode = stream.framing === 'frames' && stream.contentLength < 0 && !stream.requestDone;
    const framing =
      stream.framing === 'chunked' || this.chunkEncode
        ? CHUNKED_LINE
        : stream.contentLength >= 0
          ? `content-length: ${stream.contentLength}\r\n`
          : '';
    const upgrade = stream.upgrade === '' ? '' : `connection: upgrade\r\nupgrade: ${stream.upgrade}\r\n`;
    const out = Buffer.allocUnsafe(
      head.method.length +
        1 +
        head.path.length +
        REQUEST_LINE_MIDDLE.length +
        head.authority.length +
        2 +
        headerLinesLength(head.headers) +
        xfp.length +
        framing.length +
        upgrade.length +
        2,
    );
    let off = putLatin1(out, 0, head.method);
    out[off++] = 32;
    off = putLatin1(out, off, head.path);
    off = putLatin1(out, off, REQUEST_LINE_MIDDLE);
    off = putLatin1(out, off, head.authority);
    out[off++] = 13;
    out[off++] = 10;
    off = putHeaderLines(out, off, head.headers);
    off = putLatin1(out, off, xfp);
    off = putLatin1(out, off, framing);
    off = putLatin1(out, off, upgrade);
    out[off++] = 13;
    out[off] = 10;
    return out;
  }

  onUpstreamInformational(_conn: H1Connection, _info: HeadInfo, _headers: string[]): void {
    // 1xx from upstream: Envoy already answered 100-continue itself, so these are dropped.
  }

  onUpstreamHead(conn: H1Connection, info: HeadInfo, headers: string[]): void {
    const bodyless = conn.reader.done;
    // A gRPC answer over HTTP/1.1 may carry its status in a trailers-only head.
    const grpcStatus = this.stream.grpc && bodyless ? grpcStatusOf(headers) : undefined;
    const verdict = this.router.onUpstreamHeaders(
      info.status,
      info.reason,
      headers,
      conn.reader.framing,
      info.contentLength,
      conn.closeAfter,
      bodyless,
      grpcStatus,
    );
    if (verdict === 'Retry') this.discarding = true;
  }

  onUpstreamFlush(_conn: H1Connection): void {
    if (!this.discarding) this.stream.codec.flush();
  }

  onUpstreamBody(conn: H1Connection, chunk: Buffer, borrowed: boolean): boolean {
    if (this.discarding) return false;
    const codec = this.stream.codec;
    const kept = this.stream.encodeData(chunk, borrowed);
    if (codec.needsDrain) {
      conn.socket.pause();
      codec.onceDrained(() => conn.socket.resume());
    }
    return kept;
  }

  onUpstreamEnd(conn: H1Connection, trailers: string): void {
    if (this.discarding) {
      this.discarding = false;
      this.finish(conn, true);
      this.router.retryAfterAnswer();
      return;
    }
    const decoded = conn.decode;
    // The connection is reused only when the whole request went out on it.
    this.finish(conn, this.stream.requestDone);
    if (trailers !== '' && decoded) this.stream.encodeTrailers(parseTrailerLines(trailers));
    this.router.onUpstreamComplete();
  }

  onUpstreamUpgrade(conn: H1Connection, info: HeadInfo, headers: string[], rest: Buffer): void {
    if (!this.router.canUpgrade()) {
      this.conn = null;
      this.pool = null;
      conn.destroy();
      this.router.onUpstreamFailure('protocol', false);
      return;
    }
    this.conn = null;
    this.ready = false;
    conn.detach();
    this.pool = null;
    this.router.onUpstreamUpgraded();
    this.stream.codec.upgrade!(conn.socket, info, headers, rest);
  }

  onUpstreamFailure(conn: H1Connection, failure: UpstreamFailure, _detail: string): void {
    if (this.conn !== conn) return;
    this.conn = null;
    this.ready = false;
    this.pool = null;
    this.discarding = false;
    const kind =
      failure === 'connect_failure' || failure === 'connect_timeout'
        ? 'connect'
        : failure === 'protocol_error'
          ? 'protocol'
          : 'reset';
    this.router.onUpstreamFailure(kind, failure === 'reset_before_response' && conn.served > 0);
  }
}

function grpcStatusOf(headers: string[]): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'grpc-status') return headers[i + 1];
  return undefined;
}
