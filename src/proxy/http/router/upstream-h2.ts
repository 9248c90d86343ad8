// One attempt of a request on an HTTP/2 upstream (h2c or gRPC): a stream of a pooled session of the proxy's HTTP/2 codec.
import type { Cluster } from '../../cluster/cluster.ts';
import type { Host } from '../../cluster/host.ts';
import { CONNECT_FAILED } from '../h2/client-session.ts';
import { CANCEL, REFUSED_STREAM } from '../h2/frames.ts';
import type { H2Stream, H2StreamHandler } from '../h2/stream.ts';
import type { ActiveStream } from '../stream/stream-api.ts';
import type { AttemptOwner, UpstreamRequest } from './upstream.ts';

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
export class H2Upstream implements UpstreamRequest, H2StreamHandler {
  private readonly router: AttemptOwner;
  private readonly stream: ActiveStream;
  private up: H2Stream | null = null;
  ready = false;
  private responded = false;
  /** The attempt is over for the router (answered, failed or cancelled): later events are ignored. */
  private done = false;
  /** Waiting for the client to drain before crediting the upstream's window. */
  private paused = false;
  private drained: (() => void) | null = null;

  constructor(router: AttemptOwner, stream: ActiveStream) {
    this.router = router;
    this.stream = stream;
  }

  start(cluster: Cluster, host: Host): void {
    const stream = this.stream;
    let up: H2Stream;
    try {
      up = cluster.h2Pool(host).request(requestHeaders(stream), stream.framing === 'none', this);
    } catch {
      // No connection could be opened (a TLS secret is missing).
      this.done = true;
      this.router.onUpstreamFailure('connect', false);
      return;
    }
    this.up = up;
    this.ready = true;
    const body = this.router.attemptReady();
    for (let i = 0; i < body.length; i++) up.write(body[i]);
    this.router.bodyWritten(this);
  }

  sendData(chunk: Buffer): boolean {
    const up = this.up;
    return up === null || up.write(chunk);
  }

  onceDrained(resume: () => void): void {
    const earlier = this.drained;
    this.drained = earlier === null ? resume : chain(earlier, resume);
  }

  endData(): void {
    this.up?.end();
  }

  cancel(): void {
    this.done = true;
    this.ready = false;
    this.up?.reset(CANCEL);
  }

  onWritable(): void {
    const resume = this.drained;
    this.drained = null;
    resume?.();
  }

  onHeaders(_up: H2Stream, headers: string[], end: boolean): void {
    if (this.done) return;
    if (this.responded) {
      this.trailers(headers);
      return;
    }
    let status = 0;
    let length = -1;
    let grpcStatus: string | undefined;
    const out: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      const value = headers[i + 1];
      if (name.charCodeAt(0) === 58) {
        if (name === ':status') status = Number(value);
        continue;
      }
      if (name === 'content-length') length = Number(value);
      else if (!HOP_BY_HOP.has(name)) out.push(name, value);
      if (name === 'grpc-status') grpcStatus = value;
    }
    const verdict = this.router.onUpstreamHeaders(
      status,
      '',
      out,
      'frames',
      length,
      false,
      end,
      end ? grpcStatus : undefined,
    );
    if (verdict === 'Retry') {
      this.cancel();
      this.router.retryAfterAnswer();
      return;
    }
    this.responded = true;
    if (end) this.complete();
  }

  private trailers(headers: string[]): void {
    this.stream.encodeTrailers(headers);
    this.complete();
  }

  onData(up: H2Stream, chunk: Buffer, end: boolean): void {
    if (this.done || !this.responded) return;
    if (chunk.length > 0) {
      const codec = this.stream.codec;
      this.stream.encodeData(chunk);
      if (codec.needsDrain && !this.paused) {
        this.paused = true;
        up.pause(true);
        codec.onceDrained(() => {
          this.paused = false;
          up.pause(false);
        });
      }
    }
    if (end) this.complete();
  }

  private complete(): void {
    if (this.done) return;
    this.done = true;
    // A response that ends before the request: the rest of the request has nowhere to go (as Envoy).
    const up = this.up;
    if (up !== null && !up.localEnded) up.reset(CANCEL);
    this.router.onUpstreamComplete();
  }

  onReset(_up: H2Stream, code: number): void {
    if (this.done) return;
    this.done = true;
    const kind = code === CONNECT_FAILED ? 'connect' : code === REFUSED_STREAM ? 'refused' : 'reset';
    this.router.onUpstreamFailure(kind, false);
  }
}

/**
 * HTTP/2 request headers from the stream's head (the head has no framing or hop-by-hop headers), as
 * a flat name/value list.
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

/** Both callbacks, in order. */
export function chain(first: () => void, second: () => void): () => void {
  return () => {
    first();
    second();
  };
}
