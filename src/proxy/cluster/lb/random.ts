// Random (envoy.load_balancing_policies.random): weighted random choice.
import type { Host } from '../host.ts';
import type { LbContext, LoadBalancer } from './load-balancer.ts';

export class RandomLoadBalancer implements LoadBalancer {
  private readonly hosts: Host[];
  /** Cumulative weights, for a binary search. */
  private readonly cumulative: Float64Array;

  constructor(hosts: Host[]) {
    this.hosts = hosts;
    this.cumulative = new Float64Array(hosts.length);
    let sum = 0;
    hosts.forEach((h, i) => {
      sum += Math.max(1, h.weight);
      this.cumulative[i] = sum;
    });
  }

  pick(_ctx: LbContext): Host | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    const point = Math.random() * this.cumulative[n - 1];
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid] > point) hi = mid;
      else lo = mid + 1;
    }
    return this.hosts[lo];
  }
}
