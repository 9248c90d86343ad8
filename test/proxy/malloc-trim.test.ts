// The idle release's malloc_trim: its addon builds, gives freed glibc arena memory back after the collections, and WEFT_MALLOC_TRIM=off stops it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mallocTrimAddon } from '../../bin/malloc-trim.js';
import { WeftError } from '../../src/errors.ts';
import { mallocTrimEnabled } from '../../src/proxy/overload/malloc-trim.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const cache = mkdtempSync(join(tmpdir(), 'weft-malloc-trim-'));
after(() => rmSync(cache, { recursive: true, force: true }));
const glibc =
  process.platform === 'linux' &&
  Boolean(
    (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime,
  );

/**
 * Runs `body` in a fresh `node --expose-gc` (one malloc arena, as `weft proxy` runs) after it has
 * malloc'd ~80 MB in 4 KB blocks, kept one small block in a hundred and freed the rest: free
 * memory in the middle of the arena, which glibc's own trimming (top of the arena only) keeps.
 */
async function inChild(body: string, env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const script = `
    import { readFileSync } from 'node:fs';
    const { startIdleRelease } = await import(${JSON.stringify(`${ROOT}src/proxy/overload/idle-release.ts`)});
    const { loadMallocTrim } = await import(${JSON.stringify(`${ROOT}src/proxy/overload/malloc-trim.ts`)});
    const addonLoaded = () => readFileSync('/proc/self/maps', 'latin1').includes('malloc-trim');
    const kept = [];
    let freed = [];
    for (let i = 0; i < 20000; i++) {
      freed.push(Buffer.allocUnsafeSlow(4000));
      if (i % 100 === 0) kept.push(Buffer.allocUnsafeSlow(100));
    }
    freed = undefined;
    globalThis.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    const rss = () => process.memoryUsage.rss();
    const out = {};
    ${body}
    process.stdout.write(JSON.stringify({ ...out, kept: kept.length }));
  `;
  const { stdout } = await run(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', MALLOC_ARENA_MAX: '1', WEFT_LOG_LEVEL: 'silent', ...env },
    // Bound: the idle release looks once a second; 60 s covers a busy machine by far.
    timeout: 60_000,
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** The addon (built into this test's cache) for a child, as bin/weft.js names it for a sidecar. */
function addonEnv(): Record<string, string> {
  const addon = mallocTrimAddon(cache);
  assert.ok(addon, 'the addon builds with cc');
  return { WEFT_MALLOC_TRIM_ADDON: addon };
}

/** Body: starts the process's idle release and waits (at most 30 s) for its start-up collection. */
const AFTER_IDLE_RELEASE = `
  const release = startIdleRelease();
  for (let i = 0; i < 150 && release.collections === 0; i++) await new Promise((r) => setTimeout(r, 200));
  release.stop();
  Object.assign(out, { collections: release.collections, trimmed: release.trimmed, addon: addonLoaded() });
`;

test('WEFT_MALLOC_TRIM: unset or on trims, off does not, anything else is a WEFT_USAGE error', () => {
  assert.equal(mallocTrimEnabled(undefined), true);
  assert.equal(mallocTrimEnabled(''), true);
  assert.equal(mallocTrimEnabled('on'), true);
  assert.equal(mallocTrimEnabled('off'), false);
  assert.throws(
    () => mallocTrimEnabled('no'),
    (err) => err instanceof WeftError && err.code === 'WEFT_USAGE' && /WEFT_MALLOC_TRIM/.test(err.message),
  );
});

test('malloc_trim gives back glibc memory freed in the middle of the arena', {
  skip: !glibc && 'needs Linux with glibc',
}, async () => {
  const out = await inChild(
    `
    out.addonBefore = addonLoaded();
    const trim = loadMallocTrim(process.env.WEFT_MALLOC_TRIM_ADDON);
    const before = rss();
    out.released = trim();
    out.freedMB = (before - rss()) / 1048576;
  `,
    addonEnv(),
  );
  assert.equal(out.addonBefore, false, 'koffi loads only when the trim is first wanted');
  assert.equal(out.released, true, 'malloc_trim(0) returned 1 (it gave memory back)');
  assert.ok(
    (out.freedMB as number) > 20,
    `~80 MB were free in the arena; RSS fell by ${out.freedMB} MB only`,
  );
});

test('the idle release trims after its collections', {
  skip: !glibc && 'needs Linux with glibc',
}, async () => {
  const out = await inChild(AFTER_IDLE_RELEASE, addonEnv());
  assert.ok((out.collections as number) >= 1, `the start-up collection ran: ${JSON.stringify(out)}`);
  assert.equal(out.trimmed, 1, 'and the trim after it gave memory back');
  assert.equal(out.addon, true);
});

test('WEFT_MALLOC_TRIM=off: the idle release collects but never loads the addon nor trims', async () => {
  const out = await inChild(AFTER_IDLE_RELEASE, { WEFT_MALLOC_TRIM: 'off', ...addonEnv() });
  assert.ok((out.collections as number) >= 1, `the start-up collection ran: ${JSON.stringify(out)}`);
  assert.equal(out.trimmed, 0);
  assert.equal(out.addon, false);
});

test('no addon (no C compiler, not glibc): the idle release collects and does not trim', async () => {
  const out = await inChild(AFTER_IDLE_RELEASE, { WEFT_MALLOC_TRIM_ADDON: '' });
  assert.ok((out.collections as number) >= 1, `the start-up collection ran: ${JSON.stringify(out)}`);
  assert.equal(out.trimmed, 0);
  const broken = await inChild(AFTER_IDLE_RELEASE, { WEFT_MALLOC_TRIM_ADDON: join(cache, 'missing.node') });
  assert.equal(broken.trimmed, 0, 'an addon that does not load: no trim, no crash');
});

test('the addon is built once and reused; without a compiler there is none', {
  skip: !glibc && 'needs Linux with glibc',
}, () => {
  const addon = mallocTrimAddon(cache);
  assert.ok(addon, 'cc built the addon');
  const built = statSync(addon).mtimeMs;
  assert.equal(
    mallocTrimAddon(cache, 'no-such-compiler'),
    addon,
    'reused: no compiler needed the second time',
  );
  assert.equal(statSync(addon).mtimeMs, built);
  assert.equal(mallocTrimAddon(join(cache, 'other'), 'no-such-compiler'), undefined);
});
