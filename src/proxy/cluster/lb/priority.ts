// Envoy's priority levels: each level's share of requests follows its health, then its own load balancer picks.
import type { Host } from '../host.ts';
import type { LbContext, LoadBalancer } from './load-balancer.ts';

/** One priority level's hosts, from the best (0) down. */
export interface PriorityLevel {
  hosts: Host[];
  healthy: Host[];
}

/** How requests are shared between levels, and which hosts each level balances over. */
export interface PriorityPlan {
  /** Percent of requests per level (summing to 100). */
  loads: number[];
  /** The hosts each level's load balancer gets: its healthy ones, or all of them in panic. */
  hosts: Host[][];
}

/**
 * Envoy's arithmetic. A level's health is its healthy share times the overprovisioning factor,
 * capped at 100 %; levels take load in order up to their health, and when the total health is
 * under 100 % the loads are scaled up to make 100. A level whose healthy share is under the panic
 * threshold balances over all its hosts (unless the total health is 100 %); when every level is in
 * panic, each gets load in proportion to its number of hosts.
 */
export function planPriorities(
  levels: readonly PriorityLevel[],
  overprovisioningPercent: number,
  panicThreshold: number,
): PriorityPlan {
  const health = levels.map((l) =>
    Math.min(100, Math.floor((overprovisioningPercent * l.healthy.length) / l.hosts.length)),
  );
  const total = Math.min(
    100,
    health.reduce((a, b) => a + b, 0),
  );
  const panic = levels.map((l) => total < 100 && (100 * l.healthy.length) / l.hosts.length < panicThreshold);
  if (panic.every(Boolean)) {
    const count = levels.reduce((a, l) => a + l.hosts.length, 0);
    return { loads: levels.map((l) => (100 * l.hosts.length) / count), hosts: levels.map((l) => l.hosts) };
  }
  // No healthy host anywhere and no panic (threshold 0): nothing to pick.
  if (total === 0)
    return { loads: levels.map((_, i) => (i === 0 ? 100 : 0)), hosts: levels.map((l) => l.healthy) };
  let left = 100;
  const loads = health.map((h) => {
    const load = Math.min(left, h);
    left -= load;
    return (load * 100) / total;
  });
  return { loads, hosts: levels.map((l, i) => (panic[i] ? l.hosts : l.healthy)) };
}

/** Draws a level by its load (from the request's hash when it has one), then asks that level's balancer. */
export class PriorityLoadBalancer implements LoadBalancer {
  private readonly levels: LoadBalancer[];
  /** Upper bound of each level's share of [0, 100). */
  private readonly upTo: number[];

  constructor(levels: LoadBalancer[], loads: number[]) {
    this.levels = levels;
    let sum = 0;
    this.upTo = loads.map((l) => (sum += l));
  }

  pick(ctx: LbContext): Host | undefined {
    const draw = ctx.hash !== undefined ? ctx.hash % 100 : Math.random() * 100;
    for (let i = 0; i < this.levels.length; i++) if (draw < this.upTo[i]) return this.levels[i].pick(ctx);
    return this.levels[this.levels.length - 1].pick(ctx);
  }
}
