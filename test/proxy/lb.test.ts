// Load balancers: weighted distributions, least-request preference, ring hash and maglev consistency.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../../src/proxy/cluster/host.ts';
import { hash32 } from '../../src/proxy/cluster/lb/hash.ts';
import { LeastRequestLoadBalancer } from '../../src/proxy/cluster/lb/least-request.ts';
import type { LoadBalancer } from '../../src/proxy/cluster/lb/load-balancer.ts';
import { MaglevLoadBalancer } from '../../src/proxy/cluster/lb/maglev.ts';
import { RandomLoadBalancer } from '../../src/proxy/cluster/lb/random.ts';
import { RingHashLoadBalancer } from '../../src/proxy/cluster/lb/ring-hash.ts';
import { RoundRobinLoadBalancer } from '../../src/proxy/cluster/lb/round-robin.ts';

function hosts(weights: number[]): Host[] {
  return weights.map((w, i) => new Host('10.0.0.' + (i + 1), 8080, w));
}

function shares(lb: LoadBalancer, n: number, hs: Host[], hashed = false): number[] {
  const counts = new Map<Host, number>();
  for (let i = 0; i < n; i++) {
    const h = lb.pick({ hash: hashed ? hash32(`key-${i}`) : undefined })!;
    counts.set(h, (counts.get(h) ?? 0) + 1);
  }
  return hs.map((h) => (counts.get(h) ?? 0) / n);
}

function near(actual: number[], expected: number[], tolerance: number): void {
  for (const [i, a] of actual.entries()) {
    assert.ok(Math.abs(a - expected[i]) <= tolerance, `share ${i}: ${a} vs ${expected[i]} (${actual})`);
  }
}

test('round robin honours endpoint weights exactly over a full cycle', () => {
  const hs = hosts([1, 2, 5]);
  near(shares(new RoundRobinLoadBalancer(hs), 8000, hs), [1 / 8, 2 / 8, 5 / 8], 0.001);
  const even = hosts([1, 1, 1, 1]);
  near(shares(new RoundRobinLoadBalancer(even), 4000, even), [0.25, 0.25, 0.25, 0.25], 0.001);
});

test('random follows weights within a few percent', () => {
  const hs = hosts([1, 3]);
  near(shares(new RandomLoadBalancer(hs), 20_000, hs), [0.25, 0.75], 0.02);
});

test('least request prefers the host with fewer active requests', () => {
  const hs = hosts([1, 1]);
  hs[0].active = 10;
  hs[1].active = 0;
  const s = shares(new LeastRequestLoadBalancer(hs, 2), 10_000, hs);
  // P2C: the busy host wins only when both choices land on it (1/4).
  near(s, [0.25, 0.75], 0.03);
});

test('ring hash: same key, same host; removing a host moves only its keys; weights shape the ring', () => {
  const hs = hosts([1, 1, 1, 1]);
  const lb = new RingHashLoadBalancer(hs, 1024, 8 * 1024 * 1024);
  const key = hash32('user-42');
  const first = lb.pick({ hash: key });
  for (let i = 0; i < 10; i++) assert.equal(lb.pick({ hash: key }), first);
  const fewer = new RingHashLoadBalancer(hs.slice(0, 3), 1024, 8 * 1024 * 1024);
  // Envoy re-sizes the ring for the new host set (each host gets more entries), so a few keys of
  // the remaining hosts move too; modulo hashing would move about 75% of them.
  let moved = 0;
  let stayed = 0;
  for (let i = 0; i < 4000; i++) {
    const h = hash32(`k${i}`);
    const before = lb.pick({ hash: h })!;
    if (before === hs[3]) continue;
    if (before !== fewer.pick({ hash: h })) moved++;
    else stayed++;
  }
  assert.ok(moved / (moved + stayed) < 0.2, `moved ${moved} of ${moved + stayed}`);
  near(shares(lb, 20_000, hs, true), [0.25, 0.25, 0.25, 0.25], 0.05);
  const weighted = hosts([1, 3]);
  near(
    shares(new RingHashLoadBalancer(weighted, 1024, 8 * 1024 * 1024), 20_000, weighted, true),
    [0.25, 0.75],
    0.05,
  );
});

test('maglev: full table, stable keys, little disruption on removal, weights honoured', () => {
  const hs = hosts([1, 1, 1, 1, 1]);
  const lb = new MaglevLoadBalancer(hs, 65537);
  assert.equal(lb.table.length, 65537);
  const fewer = new MaglevLoadBalancer(hs.slice(0, 4), 65537);
  let moved = 0;
  const n = 5000;
  for (let i = 0; i < n; i++) {
    const h = hash32(`k${i}`);
    const before = lb.pick({ hash: h })!;
    if (before !== hs[4] && before !== fewer.pick({ hash: h })) moved++;
  }
  assert.ok(moved / n < 0.05, `moved ${moved / n}`);
  near(shares(lb, 20_000, hs, true), [0.2, 0.2, 0.2, 0.2, 0.2], 0.03);
  const weighted = hosts([1, 4]);
  near(shares(new MaglevLoadBalancer(weighted, 65537), 20_000, weighted, true), [0.2, 0.8], 0.03);
});
