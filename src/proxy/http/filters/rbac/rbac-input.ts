// What RBAC rules are evaluated against: the request head, the downstream connection, dynamic metadata.
import type { RequestHead } from '../../request-head.ts';
import type { DownstreamConnection } from '../filter.ts';

/** One request as the RBAC matchers see it. */
export class RbacInput {
  readonly head: RequestHead;
  readonly connection: DownstreamConnection;
  readonly metadata: ReadonlyMap<string, Record<string, unknown>> | undefined;
  private normalized: string | undefined;
  private remote: string | undefined;

  constructor(
    head: RequestHead,
    connection: DownstreamConnection,
    metadata: ReadonlyMap<string, Record<string, unknown>> | undefined,
  ) {
    this.head = head;
    this.connection = connection;
    this.metadata = metadata;
  }

  /** The path RBAC's `url_path` matches: without query, dot segments resolved (computed once). */
  get urlPath(): string {
    this.normalized ??= normalizePath(this.head.pathOnly());
    return this.normalized;
  }

  /**
   * Envoy's `remote_ip`: the original client address. With Envoy's defaults for a sidecar
   * (use_remote_address false, no trusted hops) that is the last X-Forwarded-For address when the
   * header is present, else the peer's address.
   */
  get remoteIp(): string {
    if (this.remote === undefined) {
      const xff = this.head.getAll('x-forwarded-for');
      const last = xff?.split(',').pop()?.trim();
      this.remote = last ? last : this.connection.sourceIp;
    }
    return this.remote;
  }
}

const UNRESERVED = /%(2[dDeE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])/g;

/**
 * Normalises a path as Envoy's `normalize_path` does before RBAC sees it (RFC 3986): percent-encoded
 * unreserved characters are decoded (`%61` → `a`), the remaining escapes upper-cased, and `.` and
 * `..` segments removed. So `/public/../admin` and `/%61dmin` are matched as `/admin`.
 */
export function normalizePath(path: string): string {
  let p = path.replace(UNRESERVED, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  p = p.replace(/%[0-9a-f]{2}/gi, (code) => code.toUpperCase());
  if (!p.includes('.')) return p;
  const out: string[] = [];
  const segments = p.split('/');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const last = i === segments.length - 1;
    if (segment === '.') {
      if (last) out.push('');
    } else if (segment === '..') {
      if (out.length > 1) out.pop();
      if (last) out.push('');
    } else out.push(segment);
  }
  const joined = out.join('/');
  return joined.startsWith('/') ? joined : `/${joined}`;
}
