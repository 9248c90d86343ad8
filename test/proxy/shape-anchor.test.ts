// keepShape: one kept instance keeps V8's optimized code for a class alive through a full GC after the others died.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const ANCHOR = pathToFileURL(join(import.meta.dirname, '../../src/proxy/common/shape-anchor.ts')).href;

/** A function optimized on 50 connections' objects, all dropped (one kept with `keep`), then 3 full GCs: still optimized? */
const SCRIPT = `
import { keepShape, keptShape } from '${ANCHOR}';
class Conn { constructor(i) { this.i = i; this.onRead = (n) => n + this.i; } }
function hot(c, n) { return c.onRead(n); }
let live;
// In functions that return, so no interpreter register of theirs still holds a Conn during the GCs.
function warm() {
  live = Array.from({ length: 50 }, (_, i) => new Conn(i));
  %PrepareFunctionForOptimization(hot);
  for (let i = 0; i < 1000; i++) hot(live[i % 50], i);
  %OptimizeFunctionOnNextCall(hot);
  hot(live[0], 1);
}
function drop(keep) {
  if (keep) keepShape('conn', live[49]);
  live = undefined;
}
const optimized = () => (%GetOptimizationStatus(hot) & 16) !== 0;
warm();
const before = optimized();
drop(process.argv[2] === 'keep');
// Back in the event loop first, as an idle proxy is: the module's own frame holds nothing then.
await new Promise((resolve) => setTimeout(resolve, 10));
for (let i = 0; i < 3; i++) gc();
console.log(JSON.stringify({ before, after: optimized(), kept: keptShape('conn') instanceof Conn }));
`;

function run(mode: 'keep' | 'drop'): { before: boolean; after: boolean; kept: boolean } {
  const dir = mkdtempSync(join(tmpdir(), 'weft-shape-'));
  try {
    const file = join(dir, 'probe.mjs');
    writeFileSync(file, SCRIPT);
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--expose-gc', file, mode], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 0, `probe exited ${r.status} (${r.signal ?? ''}; 30 s bound): ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a full GC after the last instance died deoptimizes code that used the class; one kept instance prevents it', () => {
  const dropped = run('drop');
  assert.equal(dropped.before, true, 'the probe function was optimized');
  assert.equal(dropped.after, false, 'V8 deoptimized it when every instance died (the reason for keepShape)');
  const kept = run('keep');
  assert.deepEqual(kept, { before: true, after: true, kept: true });
});
