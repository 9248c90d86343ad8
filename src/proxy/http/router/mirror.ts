// Request mirroring (route.request_mirror_policies): a fire-and-forget copy of a request to another cluster.

import type { Cluster } from '../../cluster/cluster.ts';
import type { ClusterManager } from '../../cluster/cluster-manager.ts';
import type { Host } from '../../cluster/host.ts';
import type { H1Connection, H1ResponseHandler } from '../../cluster/pool/h1-connection.ts';
import type { H1Pool } from '../../cluster/pool/h1-pool.ts';
import { headerLines } from '../h1/parser.ts';
import type { RequestHead } from '../request-head.ts';

/** A mirror copy holds at most this much request body before it gives up (the original never waits). */
const MIRROR_BUFFER_LIMIT = 1024 * 1024;

/** One mirror policy of a route, compiled. */
export interface MirrorPolicy {
  cluster: string;
  /** Fraction of requests mirrored, 0..1 (runtime_fraction.default_value). */
  fraction: number;
}

/** `reviews:9080` → `reviews-shadow:9080` (Envoy's shadow authority). */
export function shadowAuthority(authority: string): string {
  const colon = authority.lastIndexOf(':');
  if (colon > 0 && !authority.endsWith(']') && /^\d+$/.test(authority.slice(colon + 1)))
    return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
  return `${authority}-shadow`;
}

/**
 * The copy of one request on its way to a mirror cluster. Body chunks are written as the
 * original sends them; the response is read and dropped. Failures are silent (counted only).
 */
export class MirrorExchange implements H1ResponseHandler {
  private readonly pool: H1Pool;
  private readonly host: Host;
  private conn: H1Connection | null = null;
  private ready = false;
  private queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private done = false;
  private readonly head: string;

  private constructor(pool: H1Pool, host: Host, head: string) {
    this.pool = pool;
    this.host = host;
    this.head = head;
  }

  /**
   * Starts mirroring `head` (already routed and rewritten) to `policy.cluster`. `framing` is the
   * original request's body framing header line (or ''), sent unchanged with the raw body bytes.
   */
  static start(
    clusters: ClusterManager,
    policy: MirrorPolicy,
    head: RequestHead,
    framing: string,
    bodyless: boolean,
  ): MirrorExchange | undefined {
    if (policy.fraction < 1 && Math.random() >= policy.fraction) return undefined;
    const cluster = clusters.get(policy.cluster);
    if (!cluster || cluster.config.protocol === 'http2') return undefined;
    const host = cluster.pick({ hash: undefined });
    if (!host) return undefined;
    const text = `${head.method} ${head.path} HTTP/1.1\r\nhost: ${shadowAuthority(head.authority)}\r\n${headerLines(head.headers)}${framing}\r\n`;
    const m = new MirrorExchange(cluster.h1Pool(host), host, text);
    host.active++;
    cluster.stats.rqTotal++;
    if (bodyless) m.ended = true;
    if (m.pool.acquire(m, head.method === 'HEAD', false) === 'overflow') m.finish(false);
    return m;
  }

  /** A piece of the original request body (raw, framing kept). */
  write(chunk: Buffer): void {
    if (this.done) return;
    if (this.ready && this.conn) {
      this.conn.socket.write(chunk);
      return;
    }
    this.queued += chunk.length;
    if (this.queued > MIRROR_BUFFER_LIMIT) {
      this.finish(false);
      return;
    }
    this.queue.push(chunk);
  }

  /** The original request body is complete. */
  end(): void {
    this.ended = true;
  }

  /** The original request was aborted: drop the copy. */
  abort(): void {
    this.finish(false);
  }

  onUpstreamAssigned(conn: H1Connection): void {
    this.conn = conn;
  }

  onUpstreamReady(conn: H1Connection): void {
    this.ready = true;
    const socket = conn.socket;
    socket.cork();
    socket.write(this.head, 'latin1');
    for (const c of this.queue) socket.write(c);
    socket.uncork();
    this.queue = [];
  }

  onUpstreamFlush(): void {}

  onUpstreamInformational(): void {}

  onUpstreamHead(): void {}

  onUpstreamBody(): boolean {
    return false;
  }

  onUpstreamEnd(): void {
    // The mirror answered; reuse the connection only if the whole copy was sent.
    this.finish(this.ended);
  }

  onUpstreamUpgrade(conn: H1Connection): void {
    conn.destroy();
    this.finish(false);
  }

  onUpstreamFailure(): void {
    this.conn = null;
    this.finish(false);
  }

  private finish(reuse: boolean): void {
    if (this.done) return;
    this.done = true;
    this.host.active--;
    const conn = this.conn;
    this.conn = null;
    if (conn) this.pool.release(conn, reuse);
    else this.pool.cancel(this);
  }
}

/** What the mirrors need to know of the original request's body. */
export interface MirroredRequest {
  readonly head: RequestHead;
  /** The body's framing as the codec delivers it (`frames`: HTTP/2 DATA). */
  readonly framing: string;
  readonly contentLength: number;
}

/**
 * Starts a copy of the request for each mirror policy. Mirrors take the body as HTTP/1.1 bytes:
 * bodies de-chunked for an HTTP/2 upstream, and HTTP/2 DATA frames, are not copied (bodyless
 * requests are). Returns the copies under way, or null.
 */
export function startMirrors(
  clusters: ClusterManager,
  policies: readonly MirrorPolicy[],
  request: MirroredRequest,
  primary: Cluster,
): MirrorExchange[] | null {
  const framing = request.framing;
  if (framing === 'frames' || (framing === 'chunked' && primary.config.protocol === 'http2')) return null;
  const line =
    framing === 'chunked'
      ? 'transfer-encoding: chunked\r\n'
      : request.contentLength >= 0
        ? `content-length: ${request.contentLength}\r\n`
        : '';
  let out: MirrorExchange[] | null = null;
  for (const policy of policies) {
    const m = MirrorExchange.start(clusters, policy, request.head, line, framing === 'none');
    if (m) (out ??= []).push(m);
  }
  return out;
}
