// The load-balancer shape every policy implements, and the registry keyed by Envoy type URL.
import type { Host } from '../host.ts';

/** What a request offers a load balancer to choose by. */
export interface LbContext {
  /** Hash from the route's hash_policy (consistent-hash policies), or undefined. */
  hash: number | undefined;
  /** ORIGINAL_DST clusters: the `host:port` the request is for (set by the router). */
  originalDst?: string | undefined;
}

/** A load balancer over a fixed host set; rebuilt when the set or the weights change. */
export interface LoadBalancer {
  /** A host for this request, or undefined when there is none. */
  pick(ctx: LbContext): Host | undefined;
}

/** Policy-specific settings parsed once from the Cluster. */
export interface LbSettings {
  /** ring_hash_lb_config.minimum_ring_size (default 1024). */
  minimumRingSize: number;
  /** ring_hash_lb_config.maximum_ring_size (default 8M). */
  maximumRingSize: number;
  /** maglev_lb_config.table_size (default 65537, a prime). */
  maglevTableSize: number;
  /** least_request_lb_config.choice_count (default 2). */
  choiceCount: number;
}

export const DEFAULT_LB_SETTINGS: LbSettings = {
  minimumRingSize: 1024,
  maximumRingSize: 8 * 1024 * 1024,
  maglevTableSize: 65537,
  choiceCount: 2,
};

/** Builds a load balancer of one policy for a host set. */
export type LoadBalancerFactory = (hosts: Host[], settings: LbSettings) => LoadBalancer;

/** Load-balancing policies by Envoy type URL (load_balancing_policy) and by lb_policy enum name. */
export const LB_TYPE_URLS = {
  ROUND_ROBIN: 'type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin',
  LEAST_REQUEST: 'type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest',
  RANDOM: 'type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random',
  RING_HASH: 'type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash',
  MAGLEV: 'type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev',
} as const;

export type LbPolicyName = keyof typeof LB_TYPE_URLS;

/** True when the policy needs a request hash. */
export function isHashPolicy(policy: LbPolicyName): boolean {
  return policy === 'RING_HASH' || policy === 'MAGLEV';
}
