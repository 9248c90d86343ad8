// Least request (envoy.load_balancing_policies.least_request): best of N random choices by active requests.
import type { Host } from '../host.ts';
import type { LbContext, LoadBalancer } from './load-balancer.ts';

export class LeastRequestLoadBalancer implements LoadBalancer {
  private readonly hosts: Host[];
  private readonly choices: number;
  private readonly weighted: boolean;

  constructor(hosts: Host[], choiceCount: number) {
    this.hosts = hosts;
    this.choices = Math.max(2, choiceCount);
    this.weighted = hosts.some((h) => h.weight !== hosts[0].weight);
  }

  pick(_ctx: LbContext): Host | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    if (n === 1) return this.hosts[0];
    let best = this.hosts[(Math.random() * n) | 0];
    for (let c = 1; c < this.choices; c++) {
      const other = this.hosts[(Math.random() * n) | 0];
      // With unequal weights Envoy compares weight / (active + 1); otherwise the active count.
      if (this.weighted) {
        if (other.weight / (other.active + 1) > best.weight / (best.active + 1)) best = other;
      } else if (other.active < best.active) best = other;
    }
    return best;
  }
}
