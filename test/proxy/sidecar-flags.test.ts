// The V8/Node flags `weft proxy` re-executes itself with: added by default, never over the user's choice.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SIDECAR_FLAGS, sidecarFlagsToAdd } from '../../bin/sidecar-flags.js';

const ALL = SIDECAR_FLAGS.map((f) => f.flag);

test('a plain start gets every sidecar flag; the re-executed process adds none', () => {
  assert.deepEqual(sidecarFlagsToAdd([], ''), [
    '--max-semi-space-size=2',
    '--v8-pool-size=1',
    '--no-maglev',
    '--expose-gc',
  ]);
  assert.deepEqual(sidecarFlagsToAdd(ALL, ''), []);
});

test("the user's own choice wins, on the command line or in NODE_OPTIONS", () => {
  assert.deepEqual(sidecarFlagsToAdd(['--max-semi-space-size=16'], ''), [
    '--v8-pool-size=1',
    '--no-maglev',
    '--expose-gc',
  ]);
  assert.deepEqual(sidecarFlagsToAdd(['--maglev'], '--v8-pool-size=4'), [
    '--max-semi-space-size=2',
    '--expose-gc',
  ]);
  assert.deepEqual(sidecarFlagsToAdd([], '--max_semi_space_size=8 --no-maglev --no-expose-gc'), [
    '--v8-pool-size=1',
  ]);
  // A longer flag sharing a prefix is not the same option.
  assert.deepEqual(sidecarFlagsToAdd(['--maglev-inlining'], ''), ALL);
});
