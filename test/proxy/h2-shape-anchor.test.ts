// The HTTP/2 (gRPC) path stays optimized through a full GC after every connection closed: the codec's shape anchors (src/proxy/common/shape-anchor.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const PROBE = join(import.meta.dirname, 'h2-shape-probe.ts');

interface Probe {
  before: Record<string, boolean>;
  after: Record<string, boolean>;
  kept: string[];
}

/** Runs the probe (real HTTP/2 client, proxy and backend on loopback) in a child: `drop` replaces the anchors first. */
function run(mode: 'keep' | 'drop'): { optimized: string[]; deoptimized: string[]; kept: string[] } {
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--expose-gc', PROBE, mode], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(
    r.status,
    0,
    `probe (${mode}) exited ${r.status} (${r.signal ?? ''}; 60 s bound): ${r.stderr}`,
  );
  const p = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Probe;
  const optimized = Object.keys(p.before).filter((name) => p.before[name]);
  return { optimized, deoptimized: optimized.filter((name) => !p.after[name]), kept: p.kept };
}

test('without the anchors, the first full GC after the last HTTP/2 connection closed deoptimizes the request path', () => {
  const dropped = run('drop');
  assert.ok(dropped.optimized.length >= 3, `the probe optimized the path's methods (${dropped.optimized})`);
  assert.notDeepEqual(
    dropped.deoptimized,
    [],
    'V8 deoptimized some when their objects died (what the test guards)',
  );
});

test('with them, the HTTP/2 server and upstream paths stay optimized through it', () => {
  const kept = run('keep');
  assert.ok(kept.optimized.length >= 3, `the probe optimized the path's methods (${kept.optimized})`);
  assert.deepEqual(kept.deoptimized, [], 'no method of the path was deoptimized by the idle GC');
  assert.deepEqual(kept.kept, [
    'h2-server-stream',
    'h2-server-session',
    'h2-upstream-stream',
    'h2-client-session',
  ]);
});
