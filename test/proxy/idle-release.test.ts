// The idle release: one full GC after the process grew and went idle; never while busy, never again without new growth.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdleRelease } from '../../src/proxy/overload/idle-release.ts';

const MB = 1024 * 1024;

/** A release whose first (start-up) collection already ran, leaving the process at `start` bytes. */
function fake(start: number) {
  const state = { rss: start, utilization: 0, collected: 0, afterCollect: start, keptCode: [] as boolean[] };
  const release = new IdleRelease({
    collect: (keepCode) => {
      state.collected++;
      state.keptCode.push(keepCode);
      state.rss = state.afterCollect;
    },
    rss: () => state.rss,
    utilization: () => state.utilization,
    growthBytes: 16 * MB,
    idleUtilization: 0.05,
  });
  assert.equal(release.check(), true, 'the first idle look collects what start-up left');
  state.collected = 0;
  state.keptCode = [];
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
  assert.deepEqual(state.keptCode, [true], 'after start-up, collections keep the code traffic compiled');
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
  const keptCode: boolean[] = [];
  const release = new IdleRelease({
    collect: (keepCode) => {
      collected++;
      keptCode.push(keepCode);
    },
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
  assert.deepEqual(keptCode, [false, false, false, false], "start-up's collections drop unused bytecode");
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

test('settled (5 idle looks once), then quiet (30): 1 MB of growth is given back, at most once in 60 looks; a pause is neither', () => {
  const { state, release } = fake(40 * MB);
  state.utilization = 0.5;
  release.check();
  state.rss = 42 * MB;
  state.afterCollect = 40 * MB;
  state.utilization = 0.01;
  for (let i = 0; i < 4; i++) assert.equal(release.check(), false, `idle look ${i + 1} of 5: a pause`);
  state.utilization = 0.5;
  assert.equal(release.check(), false, 'traffic came back');
  state.utilization = 0.01;
  for (let i = 0; i < 4; i++) assert.equal(release.check(), false, 'the count of idle looks starts again');
  assert.equal(release.check(), true, 'the fifth idle look in a row: settled after start-up');
  state.utilization = 0.5;
  release.check();
  state.rss = 42 * MB;
  state.utilization = 0.01;
  for (let i = 0; i < 29; i++) assert.equal(release.check(), false, 'a pause of under 30 s after it');
  state.utilization = 0.5;
  release.check();
  state.utilization = 0.01;
  for (let i = 0; i < 29; i++) assert.equal(release.check(), false, 'idle under 30 looks in a row');
  assert.equal(release.check(), true, 'idle 30 looks in a row, 61 looks after the last one');
  state.rss = 40.5 * MB;
  for (let i = 0; i < 70; i++) assert.equal(release.check(), false, 'under 1 MB of growth');
  assert.equal(state.collected, 2);
  assert.deepEqual(state.keptCode, [true, true]);
});

test('the trim runs once after each collection (after all of start-up collections), never on a look that does not collect', () => {
  const calls: string[] = [];
  let rss = 40 * MB;
  const release = new IdleRelease({
    collect: () => calls.push('collect'),
    trim: () => {
      calls.push('trim');
      return calls.length < 10;
    },
    rss: () => rss,
    utilization: () => 0.01,
    growthBytes: 16 * MB,
  });
  assert.equal(release.check(), true);
  assert.deepEqual(calls, ['collect', 'collect', 'collect', 'collect', 'trim']);
  assert.equal(release.check(), false, 'no growth: no collection, no trim');
  assert.equal(calls.length, 5);
  rss = 60 * MB;
  assert.equal(release.check(), true);
  assert.deepEqual(calls.slice(5), ['collect', 'trim']);
  assert.equal(release.trimmed, 2, 'both trims gave memory back');
});
