// One attempt of a request on an HTTP/2 upstream (h2c or gRPC): a stream of a pooled session.
import http2 from 'node:http2';
import type { Cluster } from '../../cluster/cluster.ts';
import type { Host } from '../../cluster/host.ts';
import type { ActiveStream } from '../stream/stream-api.ts';
import type { AttemptOwner, UpstreamRequest } from './upstream.ts';

const { NGHTTP2_FLAG_END_STREAM, NGHTTP2_CANCEL } = http2.constants;

/** Headers that never cross an HTTP/2 hop (RFC 9113 8.2.2). */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** A new one per attempt (an HTTP/2 stream cannot be reused). */
export class H2Upstream implements UpstreamRequest {
  private readonly router: AttemptOwner;
  private readonly stream: ActiveStream;
  private up: http2.ClientHttp2Stream | null = null;
  ready = false;
  private responded = false;
  /** The attempt is over for the router (answered, failed or cancelled): later events are ignored. */
  private done = false;

  constructor(router: AttemptOwner, stream: ActiveStream) {
    this.router = router;
    this.stream = stream;
  }

  start(cluster: Cluster, host: Host): void {
    const stream = this.stream;
    let up: http2.ClientHttp2Stream;
    try {
      up = cluster.h2Pool(host).request(requestHeaders(stream), stream.framing === 'none');
    } catch {
      this.done = true;
      this.router.onUpstreamFailure('connect', false);
      return;
    }
    this.up = up;
    this.ready = true;
    up.on('response', this.onResponse);
    up.on('data', this.onData);
    up.on('trailers', this.onTrailers);
    up.on('end', this.onEnd);
    up.on('close', this.onClose);
    up.on('error', this.onError);
    const body = this.router.attemptReady();
    for (let i = 0; i < body.length; i++) up.write(body[i]);
    this.router.bodyWritten(this);
  }

  sendData(chunk: Buffer): boolean {
    const up = this.up;
    return up === null || up.destroyed || up.write(chunk);
  }

  onceDrained(resume: () => void): void {
    this.up?.once('drain', resume);
  }

  endData(): void {
    const up = this.up;
    if (up !== null && !up.destroyed && !up.writableEnded) up.end();
  }

  cancel(): void {
    this.done = true;
    this.ready = false;
    const up = this.up;
    if (up !== null && !up.closed) up.close(NGHTTP2_CANCEL);
  }

  private readonly onResponse = (rh: http2.IncomingHttpHeaders, flags: number): void => {
    if (this.done) return;
    const status = Number(rh[':status']);
    const end = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    const cl = rh['content-length'];
    const headers: string[] = [];
    for (const name in rh) {
      if (name.charCodeAt(0) === 58 || name === 'content-length' || HOP_BY_HOP.has(name)) continue;
      const value = rh[name];
      if (Array.isArray(value)) for (const v of value) headers.push(name, v);
      else if (value !== undefined) headers.push(name, String(value));
    }
    const verdict = this.router.onUpstreamHeaders(
      status,
      '',
      headers,
      'frames',
      cl === undefined ? -1 : Number(cl),
      false,
      end,
      end ? rh['grpc-status'] : undefined,
    );
    if (verdict === 'Retry') {
      this.cancel();
      this.router.retryAfterAnswer();
      return;
    }
    this.responded = true;
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.done || !this.responded) return;
    const codec = this.stream.codec;
    this.stream.encodeData(chunk);
    const up = this.up!;
    if (codec.needsDrain) {
      up.pause();
      codec.onceDrained(() => up.resume());
    }
  };

  private readonly onTrailers = (trailers: http2.IncomingHttpHeaders): void => {
    if (this.done) return;
    const flat: string[] = [];
    for (const name in trailers) {
      if (name.charCodeAt(0) === 58) continue;
      const value = trailers[name];
      if (Array.isArray(value)) for (const v of value) flat.push(name, v);
      else if (value !== undefined) flat.push(name, String(value));
    }
    this.stream.encodeTrailers(flat);
  };

  private readonly onEnd = (): void => {
    if (this.done) return;
    this.done = true;
    this.router.onUpstreamComplete();
  };

  private readonly onClose = (): void => {
    if (this.done) return;
    const up = this.up!;
    if (this.responded && (up.rstCode === undefined || up.rstCode === 0)) return;
    this.done = true;
    this.router.onUpstreamFailure(up.rstCode ? 'refused' : 'reset', false);
  };

  private readonly onError = (): void => {
    if (this.done) return;
    this.done = true;
    this.router.onUpstreamFailure(this.responded ? 'refused' : 'connect', false);
  };
}

/**
 * HTTP/2 request headers from the stream's head (the head has no framing or hop-by-hop headers), as
 * a flat name/value list: node:http2 takes it as it is (no object to build and copy per request).
 */
function requestHeaders(stream: ActiveStream): string[] {
  const head = stream.head;
  const out = [
    ':method',
    head.method,
    ':scheme',
    head.scheme,
    ':authority',
    head.authority,
    ':path',
    head.path,
  ];
  const h = head.headers;
  const length = stream.contentLength;
  let forwardedProto = false;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i];
    if (HOP_BY_HOP.has(name) || (name === 'content-length' && length >= 0)) continue;
    if (name === 'te' && h[i + 1].toLowerCase() !== 'trailers') continue;
    if (name === 'x-forwarded-proto') forwardedProto = true;
    out.push(name, h[i + 1]);
  }
  if (!forwardedProto) out.push('x-forwarded-proto', head.scheme);
  if (length >= 0) out.push('content-length', String(length));
  return out;
}
