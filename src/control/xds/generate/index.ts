// The generators by type URL, split into parts that each say which proxy fields they read (their cache key).
import type { MeshSnapshot } from '../../../model/types.ts';
import { TYPE_URL } from '../../../xds/type-urls.ts';
import type { ProxyNode } from '../node.ts';
import { generateClusters, generateInboundClusters, generateOutboundClusters } from './cds.ts';
import { headerMatchForm, ringHashWorks } from './clients.ts';
import { type GenerateContext, type GeneratedResource, sidecarScopeKey } from './common.ts';
import { generateEndpoints } from './eds.ts';
import { gatewayCacheKey } from './gateway.ts';
import { identityRateLimitCacheKey } from './identity-ratelimit.ts';
import { generateListeners } from './lds.ts';
import { generateRoutes } from './rds.ts';
import { rateLimitCacheKey } from './resilience.ts';
import { inboundMtlsMode, securityCacheKey } from './security.ts';

export type { GenerateContext, GeneratedResource, Warn } from './common.ts';

/** A generator: `names` undefined means a wildcard subscription (everything this proxy should have). */
export type Generator = (ctx: GenerateContext, names: readonly string[] | undefined) => GeneratedResource[];

/** The types weft generates, in the order pushes send them (make before break: CDS, EDS, LDS, RDS). */
export const GENERATORS: ReadonlyMap<string, Generator> = new Map<string, Generator>([
  [TYPE_URL.cluster, generateClusters],
  [TYPE_URL.endpoint, generateEndpoints],
  [TYPE_URL.listener, generateListeners],
  [TYPE_URL.route, generateRoutes],
]);

/** Types whose state-of-the-world responses must carry the full set (a missing resource is deleted). */
export const FULL_STATE_TYPES: ReadonlySet<string> = new Set([TYPE_URL.listener, TYPE_URL.cluster]);

/**
 * One part of a type's output. `key` names everything of the proxy (and snapshot) the part's
 * generator reads: proxies with equal keys get equal output, so it is generated and encoded once.
 * A type's output is the union of its parts' (a resource name belongs to one part).
 */
export interface GeneratorPart {
  key(proxy: ProxyNode, snapshot: MeshSnapshot): string;
  generate: Generator;
}

const usesSourceLabels = new WeakMap<MeshSnapshot, boolean>();

/** Whether any route condition depends on the client's labels (only then do labels split the RDS cache). */
function routesReadLabels(snapshot: MeshSnapshot): boolean {
  let uses = usesSourceLabels.get(snapshot);
  if (uses === undefined) {
    uses = snapshot.virtualServices.some((vs) =>
      vs.http.some((rule) => rule.matches.some((m) => m.sourceLabels !== undefined)),
    );
    usesSourceLabels.set(snapshot, uses);
  }
  return uses;
}

function sortedLabels(proxy: ProxyNode): [string, string][] {
  return Object.entries(proxy.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export const GENERATOR_PARTS: ReadonlyMap<string, readonly GeneratorPart[]> = new Map<
  string,
  GeneratorPart[]
>([
  [
    TYPE_URL.cluster,
    [
      {
        key: (p, s) => `${p.kind}|${p.namespace}|${ringHashWorks(p)}|${sidecarScopeKey(s, p)}`,
        generate: generateOutboundClusters,
      },
      {
        key: (p) => (p.kind === 'sidecar' ? JSON.stringify([p.service ?? null, p.appPort ?? null]) : '-'),
        generate: generateInboundClusters,
      },
    ],
  ],
  [TYPE_URL.endpoint, [{ key: () => '', generate: generateEndpoints }]],
  [
    TYPE_URL.listener,
    [
      {
        key: (p, s) =>
          JSON.stringify([
            p.kind,
            p.role,
            p.namespace,
            p.service ?? null,
            p.appPort ?? null,
            p.appPortName ?? null,
            p.inboundPort,
            p.outboundPort,
            // Proxyless gRPC servers get their workload's RBAC too.
            securityCacheKey(s, p),
            p.kind === 'sidecar' && p.appPort !== undefined ? inboundMtlsMode(s, p, p.appPort) : '',
            // A proxyless server's PeerAuthentication follows its labels (and the port it names).
            p.kind === 'grpc' && s.peerAuthentications?.length ? sortedLabels(p) : null,
            // ... and its RBAC header matchers the form its release reads.
            headerMatchForm(p),
            p.kind === 'sidecar' ? rateLimitCacheKey(s, p) : '',
            p.kind === 'sidecar' ? identityRateLimitCacheKey(s, p) : '',
            p.role === 'gateway' ? gatewayCacheKey({ proxy: p }) : '',
          ]),
        generate: generateListeners,
      },
    ],
  ],
  [
    TYPE_URL.route,
    [
      {
        key: (p, s) =>
          JSON.stringify([
            p.kind,
            p.namespace,
            sidecarScopeKey(s, p),
            routesReadLabels(s) ? sortedLabels(p) : null,
            p.role === 'gateway' ? gatewayCacheKey({ proxy: p }) : '',
            headerMatchForm(p),
          ]),
        generate: generateRoutes,
      },
    ],
  ],
]);
