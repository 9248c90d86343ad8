// `weft proxy` runs from one bundled script (bin/bundle.js): built from src/ into a cache, rebuilt when an input changes.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BUNDLE_CACHE, bundleFile, bundleFor, isCurrent, manifestFile, WORKER } from '../bin/bundle.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/weft.js', import.meta.url));

type Manifest = { node: string; inputs: [string, number, number][] };
const readManifest = (cache: string): Manifest =>
  JSON.parse(readFileSync(manifestFile('proxy', cache), 'utf8')) as Manifest;

test('the proxy bundle is built once, runs the CLI, and is rebuilt when one of its inputs changes', async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'weft-bundle-'));
  t.after(() => rmSync(cache, { recursive: true, force: true }));
  const file = bundleFor('proxy', cache);
  assert.equal(file, bundleFile('proxy', cache));
  const r = await run(process.execPath, [file, 'proxy', '--help'], { timeout: 60_000 });
  assert.match(r.stdout, /Usage: weft proxy/);
  // One character beyond Latin-1 (src/config/duration.ts has µ and μ in a regex) would double its size in V8.
  assert.doesNotMatch(readFileSync(file, 'latin1'), /[\u0080-\uffff]/, 'the bundle is ASCII');
  assert.ok(existsSync(join(cache, WORKER)), "a multi-core proxy's worker bundle is built with it");

  const builtAt = statSync(file).mtimeMs;
  assert.equal(bundleFor('proxy', cache), file);
  assert.equal(statSync(file).mtimeMs, builtAt, 'a current bundle is not built again');

  // As if src/proxy/sidecar.ts had been edited since the build.
  const manifest = readManifest(cache);
  const entry = manifest.inputs.find(([path]) => path === 'src/proxy/sidecar.ts');
  assert.ok(entry, 'the manifest lists the sources the bundle holds');
  entry[2] -= 1000;
  writeFileSync(manifestFile('proxy', cache), JSON.stringify(manifest));
  assert.equal(isCurrent('proxy', cache), false);
  assert.equal(bundleFor('proxy', cache), file);
  assert.equal(isCurrent('proxy', cache), true);
  const source = statSync(fileURLToPath(new URL('../src/proxy/sidecar.ts', import.meta.url)));
  assert.deepEqual(
    readManifest(cache).inputs.find(([path]) => path === 'src/proxy/sidecar.ts'),
    ['src/proxy/sidecar.ts', source.size, source.mtimeMs],
  );
});

test('the proxy bundle leaves out the other commands and what a sidecar loads only when used', () => {
  assert.ok(bundleFor('proxy'), 'the bundle builds');
  const inputs = readManifest(BUNDLE_CACHE).inputs.map(([path]) => path);
  assert.ok(inputs.includes('src/cli/proxy.ts'));
  for (const left of [
    'src/cli/control-plane.ts',
    'node_modules/re2js/',
    'node_modules/undici/',
    'node_modules/protobufjs/',
    'node_modules/@peculiar/x509/',
    'node_modules/@grpc/grpc-js/',
  ])
    assert.ok(!inputs.some((path) => path.startsWith(left)), `the proxy bundle holds ${left}`);
  assert.equal(bundleFor('control-plane'), undefined, 'only the sidecar commands are bundled');
});

test('weft proxy re-executes itself on the bundle, and --verbose stack traces name the .ts sources', async (t) => {
  const child = spawn(
    process.execPath,
    [BIN, 'proxy', '--service', 'bundled', '--app-port', '9', '--server', 'http://127.0.0.1:1'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, WEFT_LOG_FORMAT: 'json' } },
  );
  t.after(() => child.kill('SIGKILL'));
  // It retries the unreachable control plane and says so: it is up (or it exited, and the test fails below).
  const waiting = await new Promise<boolean>((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(false), 60_000);
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk;
      if (text.includes('waiting for the control plane')) resolve(true);
    });
    child.on('exit', () => resolve(false));
    t.after(() => clearTimeout(timer));
  });
  assert.ok(waiting, 'weft proxy did not report waiting for the control plane within 60 s');
  const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
  assert.ok(argv.includes(bundleFile('proxy', BUNDLE_CACHE)), argv.join(' '));

  const bad = await run(process.execPath, [BIN, 'proxy', '--verbose', '--service', 's', '--app-port', 'x'], {
    timeout: 60_000,
  }).catch((err: { stderr: string }) => err);
  assert.match(bad.stderr, /\[WEFT_USAGE\]/);
  assert.match(bad.stderr, /at .*src\/cli\/proxy\.ts:\d+:\d+/);
});
