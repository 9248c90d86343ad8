// What RBAC rules are evaluated against: the request head, the downstream connection, dynamic metadata.

import { normalizeSegments } from '../../path-normalization.ts';
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

/**
 * The path RBAC matches: normalised as Envoy's `normalize_path` does (see normalizeSegments), so
 * `/public/../admin` and `/%61dmin` are matched as `/admin` even where the HCM does not normalise.
 */
export const normalizePath = normalizeSegments;
