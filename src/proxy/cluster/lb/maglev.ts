// Maglev (envoy.load_balancing_policies.maglev): consistent hashing through a prime-sized lookup table.
import type { Host } from '../host.ts';
import { hash32 } from './hash.ts';
import type { LbContext, LoadBalancer } from './load-balancer.ts';

export class MaglevLoadBalancer implements LoadBalancer {
  private readonly hosts: Host[];
  /** table[i] = index of the host owning slot i. */
  readonly table: Uint32Array;

  constructor(hosts: Host[], tableSize: number) {
    this.hosts = hosts;
    const m = tableSize;
    this.table = new Uint32Array(hosts.length === 0 ? 0 : m);
    if (hosts.length === 0) return;
    const n = hosts.length;
    const offset = hosts.map((h) => hash32(h.key, 0xabcdef) % m);
    const skip = hosts.map((h) => (hash32(h.key, 0x123456) % (m - 1)) + 1);
    const next = new Uint32Array(n);
    const maxWeight = hosts.reduce((w, h) => Math.max(w, Math.max(1, h.weight)), 1);
    const share = hosts.map((h) => Math.max(1, h.weight) / maxWeight);
    const credit = new Float64Array(n);
    const filled = new Uint8Array(m);
    let count = 0;
    // Each round every host earns credit in proportion to its weight and claims its next
    // preferred free slot per whole credit (weighted Maglev, as Envoy does it).
    while (count < m) {
      for (let i = 0; i < n && count < m; i++) {
        credit[i] += share[i];
        if (credit[i] < 1) continue;
        credit[i] -= 1;
        let c = (offset[i] + next[i] * skip[i]) % m;
        while (filled[c]) {
          next[i]++;
          c = (offset[i] + next[i] * skip[i]) % m;
        }
        filled[c] = 1;
        this.table[c] = i;
        next[i]++;
        count++;
      }
    }
  }

  pick(ctx: LbContext): Host | undefined {
    if (this.hosts.length === 0) return undefined;
    const hash = ctx.hash === undefined ? (Math.random() * 4294967296) >>> 0 : ctx.hash;
    return this.hosts[this.table[hash % this.table.length]];
  }
}
