// Linkerd's inbound HTTP rate limit: total, then the client's override or per-identity limit, by verified mTLS identity (429).
import { isGrpc } from '../../local-reply.ts';
import type {
  FilterStatus,
  FilterStream,
  HttpFilter,
  HttpFilterConfig,
  HttpFilterFactory,
} from '../filter.ts';
import {
  compileIdentityRateLimit,
  IDENTITY_RATELIMIT_TYPE_URL,
  type IdentityRateLimitConfig,
} from './identity-ratelimit-config.ts';

/** gRPC's RESOURCE_EXHAUSTED, what Linkerd answers a rate-limited gRPC call with. */
const RESOURCE_EXHAUSTED = '8';

/** Which limit refused a request: Linkerd's messages. */
export function checkRateLimit(
  config: IdentityRateLimitConfig,
  identity: string | undefined,
): string | undefined {
  const total = config.total;
  if (total && total.bucket.take() === 'limited') return `total rate limit exceeded: ${total.rate.rps}rps`;
  const override = identity === undefined ? undefined : config.overrides.get(identity);
  if (override)
    return override.bucket.take() === 'limited'
      ? `override rate limit exceeded: ${override.rate.rps}rps`
      : undefined;
  const perIdentity = config.identity;
  // Every unauthenticated client counts as one identity, as in Linkerd.
  if (perIdentity && !perIdentity.take(identity ?? ''))
    return `per-identity rate limit exceeded: ${perIdentity.rate.rps}rps`;
  return undefined;
}

class IdentityRateLimitFilter implements HttpFilter {
  private readonly config: IdentityRateLimitConfig;

  constructor(config: IdentityRateLimitConfig) {
    this.config = config;
  }

  decodeHeaders(stream: FilterStream): FilterStatus {
    const refused = checkRateLimit(this.config, stream.streamInfo?.connection.peerPrincipal);
    if (refused === undefined) return 'Continue';
    const grpc = isGrpc(stream.head.get('content-type'));
    stream.sendLocalReply(429, refused, 'RL', grpc ? ['grpc-status', RESOURCE_EXHAUSTED] : []);
    return 'StopIteration';
  }
}

export const identityRateLimitFilterFactory: HttpFilterFactory = {
  typeUrl: IDENTITY_RATELIMIT_TYPE_URL,
  terminal: false,
  parse(name, config, where): HttpFilterConfig {
    const compiled = compileIdentityRateLimit(config, where);
    return { name, createFilter: () => new IdentityRateLimitFilter(compiled) };
  },
};
