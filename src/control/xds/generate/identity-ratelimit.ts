// Linkerd HTTPLocalRateLimitPolicy as the inbound filter weft's proxy runs for it (Linkerd's HttpLocalRateLimit in a TypedStruct).
import { selectorMatches } from '../../../model/labels.ts';
import type { IdentityRateLimitModel } from '../../../model/types.ts';
import type { HttpFilter, LinkerdHttpLocalRateLimit } from '../../../xds/messages/index.ts';
import { jsonToStruct } from '../../../xds/struct.ts';
import { CONFIG_TYPE } from '../../../xds/type-urls.ts';
import type { GenerateContext } from './common.ts';

/** The filter's name in the inbound HTTP connection manager. */
export const IDENTITY_RATELIMIT_FILTER_NAME = 'io.linkerd.proxy.inbound.local_rate_limit';

/** Whether a sidecar is one of the Server's workloads, on the Server's port. */
function onServer(
  server: NonNullable<IdentityRateLimitModel['server']>,
  proxy: GenerateContext['proxy'],
): boolean {
  const port = server.port === proxy.appPort || server.port === proxy.appPortName;
  return port && selectorMatches(server.selector, proxy.labels);
}

/** The policies on a sidecar's Server (or, for a policy without one, its service), oldest first. */
function policiesFor(ctx: Pick<GenerateContext, 'snapshot' | 'proxy'>): IdentityRateLimitModel[] {
  const service = ctx.proxy.service;
  if (!service) return [];
  const host = `${service.name}.${ctx.proxy.namespace}.svc.${ctx.snapshot.mesh.domainSuffix}`;
  return (ctx.snapshot.identityRateLimits ?? []).filter((l) =>
    l.server === undefined
      ? l.host === host
      : l.namespace === ctx.proxy.namespace && onServer(l.server, ctx.proxy),
  );
}

/** What of a snapshot the filter of `proxy` reads (for the listener cache key). */
export function identityRateLimitCacheKey(
  snapshot: GenerateContext['snapshot'],
  proxy: GenerateContext['proxy'],
): string {
  const policies = policiesFor({ snapshot, proxy });
  return policies.length === 0
    ? ''
    : JSON.stringify([snapshot.mesh.trustDomain, policies[0], policies.length]);
}

/**
 * The filter for the oldest HTTPLocalRateLimitPolicy on this sidecar's service (Linkerd lets
 * one policy target a Server; a later one is warned about and not applied). ServiceAccounts
 * become the SPIFFE IDs the proxy verifies on mTLS connections.
 */
export function inboundIdentityRateLimit(ctx: GenerateContext): HttpFilter | undefined {
  const [policy, ...others] = policiesFor(ctx);
  if (!policy) return undefined;
  for (const other of others)
    ctx.warn(
      `ratelimit-linkerd/${other.namespace}/${other.name}`,
      `HTTPLocalRateLimitPolicy ${other.namespace}/${other.name}: ${policy.namespace}/${policy.name} already targets ${policy.host}; only the oldest applies`,
    );
  const td = ctx.snapshot.mesh.trustDomain;
  const config: LinkerdHttpLocalRateLimit = {
    ...(policy.total === undefined ? {} : { total: { requestsPerSecond: policy.total } }),
    ...(policy.identity === undefined ? {} : { identity: { requestsPerSecond: policy.identity } }),
    overrides: policy.overrides.map((o) => ({
      limit: { requestsPerSecond: o.requestsPerSecond },
      clients: {
        identities: o.clients.map((c) => ({
          name: `spiffe://${td}/ns/${c.namespace}/sa/${c.serviceAccount}`,
        })),
      },
    })),
  };
  return {
    name: IDENTITY_RATELIMIT_FILTER_NAME,
    typed_config: {
      '@type': CONFIG_TYPE.typedStruct,
      type_url: CONFIG_TYPE.linkerdHttpLocalRateLimit,
      value: jsonToStruct(config),
    },
  };
}
