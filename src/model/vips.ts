// Service VIPs: the addresses mesh DNS answers for a service name, stable per hostname (Istio's auto-allocation, 240.240.0.0/16).
import { isIP } from 'node:net';
import { isWildcardHost } from './hostnames.ts';
import type { Service } from './types.ts';

/** The block VIPs are allocated from (reserved class E space: never a real destination, as Istio uses it). */
export const VIP_PREFIX = '240.240';
/** Usable addresses in the block: .0.1 to .255.254. */
const SLOTS = 65_534;

/** FNV-1a of the hostname: where its VIP is looked for first. */
function slotOf(hostname: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < hostname.length; i++) {
    h ^= hostname.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % SLOTS;
}

function addressOf(slot: number): string {
  const n = slot + 1;
  return `${VIP_PREFIX}.${n >> 8}.${n & 0xff}`;
}

/**
 * Every non-wildcard service's addresses: a ServiceEntry's own `addresses` (plain IPs; CIDRs
 * name no single address) when it gives some, else one VIP from 240.240.0.0/16 at the hash of
 * its hostname (the next free slot on a clash, hostnames taken in sorted order). A service keeps
 * its VIP across restarts and unrelated changes; only a clash with a new, smaller hostname moves
 * it (about one chance in 65,534 per service pair).
 */
export function allocateVips(services: ReadonlyMap<string, Service>): Map<string, readonly string[]> {
  const vips = new Map<string, readonly string[]>();
  const taken = new Set<number>();
  const auto: string[] = [];
  for (const service of services.values()) {
    if (isWildcardHost(service.hostname)) continue;
    const own = (service.addresses ?? []).filter((a) => isIP(a) !== 0);
    if (own.length > 0) vips.set(service.hostname, own);
    else auto.push(service.hostname);
  }
  for (const hostname of auto.sort()) {
    let slot = slotOf(hostname);
    while (taken.has(slot)) slot = (slot + 1) % SLOTS;
    taken.add(slot);
    vips.set(hostname, [addressOf(slot)]);
  }
  return vips;
}
