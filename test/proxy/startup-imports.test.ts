// What `weft proxy` loads at start: no X.509 library, no grpc-js (each costs a sidecar ~15-19 MB resident), no protobufjs, no node:http2 or node:fs/promises.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Imports `modules` (paths from the repository root) in a fresh Node process whose resolve hook
 * records every package the import graph resolves, and returns the package names.
 */
async function packagesLoadedBy(modules: string[]): Promise<string[]> {
  const script = `
    import { registerHooks } from 'node:module';
    const packages = new Set();
    registerHooks({
      resolve(specifier, context, next) {
        const result = next(specifier, context);
        const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(result.url);
        if (m) packages.add(m[1]);
        return result;
      },
    });
    for (const m of ${JSON.stringify(modules)}) await import(new URL(m, ${JSON.stringify(`file://${ROOT}`)}).href);
    // Node's bundled undici (fetch, and the ES module namespace of node:http) is not a package.
    if (process.moduleLoadList.some((m) => m.includes('internal/deps/undici'))) packages.add('node:internal/deps/undici');
    // Node's built-in modules a sidecar must not load at start (NOT_IN_PROXY).
    for (const b of ['http2', 'fs/promises']) if (process.moduleLoadList.includes('NativeModule ' + b)) packages.add('node:' + b);
    process.stdout.write(JSON.stringify([...packages].sort()));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '' },
    timeout: 60_000,
  });
  return JSON.parse(stdout) as string[];
}

/** Packages a sidecar must not load at start (the CA and the control plane's xDS server keep them). */
const NOT_IN_PROXY = [
  '@peculiar/x509',
  'reflect-metadata',
  'tsyringe',
  '@grpc/grpc-js',
  'undici',
  'node:internal/deps/undici',
  // RE2 regexes: loaded by the first regex in the proxy's config (src/proxy/common/re2.ts).
  're2js',
  // Its root of the Envoy protos costs ~5 MB: the proxy reads xDS with src/xds/wire instead.
  'protobufjs',
  // With an nghttp2 session, ~1 MB of an idle sidecar: the ADS call runs on weft's own HTTP/2 codec.
  'node:http2',
  // With the readline modules it loads, ~0.3 MB: the proxy reads files with fs.readFile.
  'node:fs/promises',
];

test('the weft proxy command loads no X.509 library, grpc-js, undici, re2js, protobufjs, node:http2 or node:fs/promises at start', async () => {
  const loaded = await packagesLoadedBy(['src/cli/proxy.ts', 'src/proxy/sidecar.ts']);
  assert.ok(loaded.includes('pino'), `the hook saw the proxy's packages: ${loaded.join(', ')}`);
  for (const name of NOT_IN_PROXY) assert.ok(!loaded.includes(name), `weft proxy loads ${name}`);
});

test('the check sees a package when a module does load it (the control plane CA)', async () => {
  const loaded = await packagesLoadedBy(['src/identity/x509.ts']);
  assert.ok(loaded.includes('@peculiar/x509'), loaded.join(', '));
});

test("the check sees Node's bundled undici when a module imports node:http as an ES module", async () => {
  // The proxy goes through src/proxy/common/node-http.ts (require) instead.
  const loaded = await packagesLoadedBy(['node:http']);
  assert.ok(loaded.includes('node:internal/deps/undici'), loaded.join(', '));
});

test('the check sees node:http2 when a module loads it (the control plane xDS server)', async () => {
  const loaded = await packagesLoadedBy(['src/control/xds/grpc-server.ts']);
  assert.ok(loaded.includes('node:http2'), loaded.join(', '));
});
