// The idle release: one full GC after the process grew and went idle; never while busy, never again without new growth.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdleRelease } from '../../src/proxy/overload/idle-release.ts';

const MB = 1024 * 1024;

/** A release whose first (start-up) collection already ran, leaving the process at `start` bytes. */
function fake(start: number) {
  const state = { rss: start, utilization: 0, collected: 0, afterCollect: start };
  const release = new IdleRelease({
    collect: () => {
      state.collected++;
      state.rss = state.afterCollect;
    },
    rss: () => state.rss,
    utilization: () => state.utilization,
    growthBytes: 16 * MB,
    idleUtilization: 0.05,
  });
  assert.equal(release.check(), true, 'the first idle look collects what start-up left');
  state.collected = 0;
  return { state, release };
}

test('busy: no collection however much it grew; idle after growth: one collection', () => {
  const { state, release } = fake(40 * MB);
  state.rss = 150 * MB;
  state.utilization = 0.9;
  assert.equal(release.check(), false, 'never during traffic');
  state.utilization = 0.01;
  state.afterCollect = 60 * MB;
  assert.equal(release.check(), true);
  assert.equal(state.rss, 60 * MB);
  assert.equal(release.check(), false, 'idle but no new growth since the collection');
  assert.equal(release.collections, 2, 'start-up, then after the burst');
});

test('small growth is left alone; growth counts from the lowest point seen', () => {
  const { state, release } = fake(50 * MB);
  state.rss = 60 * MB;
  assert.equal(release.check(), false, '10 MB is under the 16 MB threshold');
  state.rss = 30 * MB;
  assert.equal(release.check(), false);
  state.rss = 47 * MB;
  assert.equal(release.check(), true, '17 MB above the lowest point (30 MB)');
});

test('start-up: nothing while busy starting, then collections in a row at the first idle look', () => {
  let collected = 0;
  let utilization = 0.6;
  const release = new IdleRelease({
    collect: () => collected++,
    rss: () => 80 * MB,
    utilization: () => utilization,
  });
  assert.equal(release.check(), false);
  utilization = 0.001;
  assert.equal(release.check(), true);
  assert.equal(
    collected,
    4,
    'four last-resort collections: the sixth full GC drops unused bytecode, the rest give back its pages',
  );
  assert.equal(release.check(), false);
  assert.equal(release.collections, 1);
});

test('a collection that frees nothing does not repeat every interval', () => {
  const { state, release } = fake(40 * MB);
  state.rss = 100 * MB;
  state.afterCollect = 100 * MB;
  assert.equal(release.check(), true);
  assert.equal(release.check(), false);
  assert.equal(state.collected, 1);
});

test('another start-up (a node agent workload) is collected at the next idle look, whatever it grew', () => {
  const { state, release } = fake(40 * MB);
  state.rss = 41 * MB;
  assert.equal(release.check(), false, '1 MB is under the 16 MB threshold');
  release.startedUp();
  state.utilization = 0.5;
  assert.equal(release.check(), false, 'never while busy');
  state.utilization = 0.01;
  assert.equal(release.check(), true, 'the first idle look after the start-up collects');
  assert.equal(release.check(), false, 'once');
  assert.equal(state.collected, 1);
});
