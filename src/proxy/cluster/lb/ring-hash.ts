// Ring hash (envoy.load_balancing_policies.ring_hash): consistent hashing on a ring of virtual nodes.
import type { Host } from '../host.ts';
import { hash32 } from './hash.ts';
import type { LbContext, LoadBalancer } from './load-balancer.ts';

export class RingHashLoadBalancer implements LoadBalancer {
  private readonly hosts: Host[];
  /** Sorted ring positions and the host index at each. */
  readonly ring: Uint32Array;
  private readonly owner: Uint32Array;

  constructor(hosts: Host[], minimumRingSize: number, maximumRingSize: number) {
    this.hosts = hosts;
    const total = hosts.reduce((s, h) => s + Math.max(1, h.weight), 0);
    // As Envoy: scale so the smallest-weight host gets at least one entry and the ring at least the minimum.
    const minWeight = hosts.reduce((m, h) => Math.min(m, Math.max(1, h.weight) / total), 1);
    const scale = Math.min(Math.ceil(minWeight * minimumRingSize) / minWeight, maximumRingSize);
    const entries: { hash: number; host: number }[] = [];
    let target = 0;
    let placed = 0;
    hosts.forEach((h, i) => {
      target += (Math.max(1, h.weight) / total) * scale;
      const count = Math.floor(target) - placed;
      placed += count;
      for (let k = 0; k < count; k++) entries.push({ hash: hash32(`${h.key}_${k}`), host: i });
    });
    entries.sort((a, b) => a.hash - b.hash || a.host - b.host);
    this.ring = new Uint32Array(entries.length);
    this.owner = new Uint32Array(entries.length);
    entries.forEach((e, i) => {
      this.ring[i] = e.hash;
      this.owner[i] = e.host;
    });
  }

  pick(ctx: LbContext): Host | undefined {
    const n = this.ring.length;
    if (n === 0) return undefined;
    const hash = ctx.hash === undefined ? (Math.random() * 4294967296) >>> 0 : ctx.hash;
    // First ring entry at or after the hash, wrapping around.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ring[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.hosts[this.owner[lo === n ? 0 : lo]];
  }
}
