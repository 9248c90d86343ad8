// The V8/Node flags and malloc settings `weft proxy` re-executes itself with: added by default, never over the user's choice.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SIDECAR_FLAGS, sidecarEnvToAdd, sidecarFlagsToAdd } from '../../bin/sidecar-flags.js';

const ALL = SIDECAR_FLAGS.map((f) => f.flag);

test('a plain start gets every sidecar flag; the re-executed process adds none', () => {
  assert.deepEqual(sidecarFlagsToAdd([], ''), [
    '--max-semi-space-size=2',
    '--v8-pool-size=1',
    '--no-maglev',
    '--no-sparkplug',
    '--expose-gc',
    '--use-openssl-ca',
  ]);
  assert.deepEqual(sidecarFlagsToAdd(ALL, ''), []);
});

test("the user's own choice wins, on the command line or in NODE_OPTIONS", () => {
  assert.deepEqual(sidecarFlagsToAdd(['--max-semi-space-size=16', '--sparkplug'], ''), [
    '--v8-pool-size=1',
    '--no-maglev',
    '--expose-gc',
    '--use-openssl-ca',
  ]);
  assert.deepEqual(sidecarFlagsToAdd(['--maglev'], '--v8-pool-size=4 --use-system-ca'), [
    '--max-semi-space-size=2',
    '--no-sparkplug',
    '--expose-gc',
  ]);
  assert.deepEqual(
    sidecarFlagsToAdd(
      [],
      '--max_semi_space_size=8 --no-maglev --no-expose-gc --no-sparkplug --use-bundled-ca',
    ),
    ['--v8-pool-size=1'],
  );
  // A longer flag sharing a prefix is not the same option.
  assert.deepEqual(sidecarFlagsToAdd(['--maglev-inlining', '--sparkplug-filter=x'], ''), ALL);
});

test('one malloc arena unless the environment sets MALLOC_ARENA_MAX itself', () => {
  assert.deepEqual(sidecarEnvToAdd({}), { MALLOC_ARENA_MAX: '1' });
  assert.deepEqual(sidecarEnvToAdd({}, ['--use-openssl-ca']), {
    MALLOC_ARENA_MAX: '1',
    WEFT_DEFAULT_CA: 'deferred',
  });
  assert.deepEqual(sidecarEnvToAdd({ MALLOC_ARENA_MAX: '8' }), {});
  assert.deepEqual(sidecarEnvToAdd({ MALLOC_ARENA_MAX: '' }), {});
});

test('the re-executed sidecar runs with the flags and the environment', async () => {
  // What bin/weft.js execs: node accepts every flag, and glibc's tunable is in the environment.
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync(
    process.execPath,
    [...ALL, '-e', 'process.stdout.write(JSON.stringify([typeof gc, process.env.MALLOC_ARENA_MAX]))'],
    { env: { ...process.env, ...sidecarEnvToAdd({}) }, encoding: 'utf8', timeout: 30_000 },
  );
  assert.deepEqual(JSON.parse(out), ['function', '1']);
});
