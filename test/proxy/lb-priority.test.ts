// Priority levels: Envoy's load shares from health and the overprovisioning factor, panic, and a cluster failing over.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster } from '../../src/proxy/cluster/cluster.ts';
import { compileCluster, compileLoadAssignment } from '../../src/proxy/cluster/cluster-config.ts';
import { Host } from '../../src/proxy/cluster/host.ts';
import { type PriorityLevel, planPriorities } from '../../src/proxy/cluster/lb/priority.ts';

/** A level of `total` hosts of which `healthy` are healthy. */
function level(total: number, healthy: number): PriorityLevel {
  const hosts = Array.from({ length: total }, (_, i) => new Host(`10.0.0.${i + 1}`, 80, 1));
  return { hosts, healthy: hosts.slice(0, healthy) };
}

const round = (loads: number[]) => loads.map((l) => Math.round(l));

test('a degraded level sheds load to the next as Envoy computes it (overprovisioning 1.4)', () => {
  // Envoy's documented examples: P0's healthy share → P0 / P1 load, P1 fully healthy.
  for (const [healthy, p0, p1] of [
    [100, 100, 0],
    [72, 100, 0],
    [71, 99, 1],
    [50, 70, 30],
    [25, 35, 65],
    [0, 0, 100],
  ]) {
    const plan = planPriorities([level(100, healthy), level(100, 100)], 140, 0);
    assert.deepEqual(round(plan.loads), [p0, p1], `P0 ${healthy} % healthy`);
  }
  const custom = planPriorities([level(10, 5), level(10, 10)], 100, 0);
  assert.deepEqual(round(custom.loads), [50, 50], 'overprovisioning_factor 100');
});

test('loads are scaled up when the levels together are under 100 % healthy; panic per level, and in total', () => {
  // Health 28 + 70 = 98 % → scaled to 29 / 71. P0 (20 % healthy) is under the panic threshold and
  // balances over all its 10 hosts; P1 (50 %) over its 5 healthy ones.
  const partial = planPriorities([level(10, 2), level(10, 5)], 140, 50);
  assert.deepEqual(round(partial.loads), [29, 71]);
  assert.deepEqual([partial.hosts[0].length, partial.hosts[1].length], [10, 5]);
  // Health 42 + 84 reaches 100 %: no level is in panic, P0 keeps its 3 healthy hosts.
  const full = planPriorities([level(10, 3), level(10, 6)], 140, 50);
  assert.deepEqual(round(full.loads), [42, 58]);
  assert.equal(full.hosts[0].length, 3);
  // Every level under the threshold: total panic, shares by host count, all hosts.
  const total = planPriorities([level(10, 2), level(30, 12)], 140, 50);
  assert.deepEqual(round(total.loads), [25, 75]);
  assert.deepEqual([total.hosts[0].length, total.hosts[1].length], [10, 30]);
  // Nothing healthy and no panic threshold: nothing to pick.
  const none = planPriorities([level(2, 0), level(2, 0)], 140, 0);
  assert.deepEqual([none.hosts[0].length, none.hosts[1].length], [0, 0]);
});

test('a cluster with two priorities sends everything to P0, then fails over as P0 hosts go unhealthy', () => {
  const cluster = new Cluster(compileCluster({ name: 'c', type: 'EDS', connectTimeout: { seconds: 1 } }));
  const assignment = (p0Health: string[]) =>
    compileLoadAssignment({
      clusterName: 'c',
      endpoints: [
        {
          priority: 0,
          lbEndpoints: p0Health.map((healthStatus, i) => ({
            endpoint: { address: { socketAddress: { address: `10.0.0.${i + 1}`, portValue: 80 } } },
            healthStatus,
          })),
        },
        {
          priority: 1,
          lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.1.1', portValue: 80 } } } }],
        },
      ],
    });
  const share = () => {
    let p1 = 0;
    for (let i = 0; i < 4000; i++) if (cluster.pick({ hash: undefined })?.address === '10.0.1.1') p1++;
    return p1 / 4000;
  };
  cluster.setEndpoints(assignment(['HEALTHY', 'HEALTHY']), '1');
  assert.equal(share(), 0, 'P0 fully healthy takes everything');
  cluster.setEndpoints(assignment(['HEALTHY', 'UNHEALTHY']), '2');
  const half = share();
  assert.ok(half > 0.25 && half < 0.35, `P0 half healthy: P1 gets ~30 % (${half})`);
  cluster.setEndpoints(assignment(['UNHEALTHY', 'UNHEALTHY']), '3');
  assert.equal(share(), 1, 'P0 down: P1 takes everything');
});
