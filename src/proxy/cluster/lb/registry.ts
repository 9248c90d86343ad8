// Load-balancer factories registered by Envoy type URL; clusters look their policy up here.
import { LeastRequestLoadBalancer } from './least-request.ts';
import { LB_TYPE_URLS, type LoadBalancerFactory } from './load-balancer.ts';
import { MaglevLoadBalancer } from './maglev.ts';
import { RandomLoadBalancer } from './random.ts';
import { RingHashLoadBalancer } from './ring-hash.ts';
import { RoundRobinLoadBalancer } from './round-robin.ts';

/** Type URL → factory. A Cluster naming a policy not in here is NACKed. */
export const LOAD_BALANCERS: ReadonlyMap<string, LoadBalancerFactory> = new Map<string, LoadBalancerFactory>([
  [LB_TYPE_URLS.ROUND_ROBIN, (hosts) => new RoundRobinLoadBalancer(hosts)],
  [LB_TYPE_URLS.LEAST_REQUEST, (hosts, s) => new LeastRequestLoadBalancer(hosts, s.choiceCount)],
  [LB_TYPE_URLS.RANDOM, (hosts) => new RandomLoadBalancer(hosts)],
  [
    LB_TYPE_URLS.RING_HASH,
    (hosts, s) => new RingHashLoadBalancer(hosts, s.minimumRingSize, s.maximumRingSize),
  ],
  [LB_TYPE_URLS.MAGLEV, (hosts, s) => new MaglevLoadBalancer(hosts, s.maglevTableSize)],
]);
