// Round robin (envoy.load_balancing_policies.round_robin): smooth weighted rotation over the hosts.
import type { Host } from '../host.ts';
import type { LbContext, LoadBalancer } from './load-balancer.ts';

export class RoundRobinLoadBalancer implements LoadBalancer {
  private readonly hosts: Host[];
  private readonly weights: number[];
  private readonly current: number[];
  private readonly total: number;
  private readonly uniform: boolean;
  private next: number;

  constructor(hosts: Host[]) {
    this.hosts = hosts;
    this.weights = hosts.map((h) => Math.max(1, h.weight));
    this.current = hosts.map(() => 0);
    this.total = this.weights.reduce((s, w) => s + w, 0);
    this.uniform = this.weights.every((w) => w === this.weights[0]);
    // Start at a random host so that many proxies do not all hit the first host first.
    this.next = hosts.length > 0 ? Math.floor(Math.random() * hosts.length) : 0;
  }

  pick(_ctx: LbContext): Host | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    if (this.uniform) {
      const h = this.hosts[this.next];
      this.next = this.next + 1 === n ? 0 : this.next + 1;
      return h;
    }
    // nginx's smooth weighted round robin: deterministic and evenly interleaved.
    let best = 0;
    for (let i = 0; i < n; i++) {
      this.current[i] += this.weights[i];
      if (this.current[i] > this.current[best]) best = i;
    }
    this.current[best] -= this.total;
    return this.hosts[best];
  }
}
