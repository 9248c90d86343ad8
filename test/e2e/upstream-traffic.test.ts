// Upstream-style YAML on real traffic: SMI TrafficSplit (plain and with matches), Istio relative weights, a GAMMA HTTPRoute, CORS, through real sidecars.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { eventually } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { startSidecar } from '../helpers/mesh-load.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/upstream/', import.meta.url));
const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+)/;

let dir: string;
let server: string;
let outbound: number;
const procs: WeftProcess[] = [];
const echoes: Echo[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-upstream-'));
  const cp = await startWeft(
    [
      'control-plane',
      '--data-dir',
      join(dir, 'data'),
      '--api',
      '127.0.0.1:0',
      '--xds',
      '127.0.0.1:0',
      '--push-debounce',
      '20ms',
    ],
    { ready: CP_READY },
  );
  procs.push(cp);
  server = cp.ready[1];
  const names = ['client', 'website', 'website-v1', 'website-v2'];
  echoes.push(...(await Promise.all(names.map((n) => startHttpEcho(n)))));
  const ports = await Promise.all(
    names.map((n, i) =>
      startSidecar([server], ['--service', n, '--app-port', String(echoes[i].port)], procs),
    ),
  );
  outbound = ports[0].out;
});

after(async () => {
  for (const p of procs.slice(1)) await p.stop('SIGTERM');
  await procs[0]?.stop('SIGTERM');
  await Promise.all(echoes.map((e) => e.close()));
  await rm(dir, { recursive: true, force: true });
});

/** Which app answered each of `n` requests for `website` from the client's sidecar. */
async function answers(n: number, headers: Record<string, string> = {}): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await request(outbound, { host: 'website', path: '/', headers });
    assert.equal(res.status, 200, res.body.toString());
    out.push((JSON.parse(res.body.toString()) as { name: string }).name);
  }
  return out;
}

async function apply(file: string): Promise<void> {
  const r = await runCli(['apply', '-f', join(FIXTURES, file), '--server', server]);
  assert.equal(r.code, 0, r.stderr);
}

async function remove(file: string): Promise<void> {
  const r = await runCli(['delete', '-f', join(FIXTURES, file), '--server', server]);
  assert.equal(r.code, 0, r.stderr);
}

test('before any routing, website answers itself', async () => {
  await eventually(async () => assert.deepEqual([...new Set(await answers(4))], ['website']));
});

test('smi/traffic-split.yaml: website traffic goes to website-v1 and website-v2 only, both', async () => {
  await apply('smi/traffic-split.yaml');
  // 40 requests at 25/75: each backend is seen unless chance is below 1e-5.
  await eventually(async () =>
    assert.deepEqual([...new Set(await answers(40))].sort(), ['website-v1', 'website-v2']),
  );
  await remove('smi/traffic-split.yaml');
});

test('smi/traffic-split-matches.yaml: only requests matching the HTTPRouteGroup are split; the rest go to the root service', async () => {
  await apply('smi/traffic-split-matches.yaml');
  const firefox = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' };
  await eventually(async () => {
    assert.deepEqual([...new Set(await answers(6, firefox))], ['website-v2']);
    assert.deepEqual([...new Set(await answers(6, { 'user-agent': 'curl/8.5.0' }))], ['website']);
  });
  await remove('smi/traffic-split-matches.yaml');
});

test('istio/relative-weights.yaml: weights 1 and 1 split between website-v1 and website-v2', async () => {
  await apply('istio/relative-weights.yaml');
  await eventually(async () =>
    assert.deepEqual([...new Set(await answers(30))].sort(), ['website-v1', 'website-v2']),
  );
  await remove('istio/relative-weights.yaml');
});

test('gateway-api/gamma-header-route.yaml: x-canary goes to website-v2, the rest to website-v1', async () => {
  await apply('gateway-api/gamma-header-route.yaml');
  await eventually(async () => {
    assert.deepEqual([...new Set(await answers(5, { 'x-canary': 'true' }))], ['website-v2']);
    assert.deepEqual([...new Set(await answers(5))], ['website-v1']);
  });
});

/** A CORS preflight for `website` from `origin`. */
function preflight(origin: string) {
  return request(outbound, {
    host: 'website',
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST' },
  });
}

test('istio/cors.yaml: allowed preflights are answered by the proxy, allowed origins get CORS headers', async () => {
  await remove('gateway-api/gamma-header-route.yaml');
  await apply('istio/cors.yaml');
  await eventually(async () => {
    const pre = await preflight('https://app.example.com');
    assert.equal(pre.status, 200);
    assert.equal(pre.json, undefined, 'answered by the proxy, not the app');
    assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET,POST');
    assert.equal(pre.headers['access-control-allow-headers'], 'x-custom');
    assert.equal(pre.headers['access-control-max-age'], '86400');
    assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  });
  const get = await request(outbound, {
    host: 'website',
    headers: { origin: 'https://shop.partner.example' },
  });
  assert.equal(get.json?.name, 'website');
  assert.equal(get.headers['access-control-allow-origin'], 'https://shop.partner.example');
  assert.equal(get.headers['access-control-expose-headers'], 'x-trace');
  const stranger = await request(outbound, { host: 'website', headers: { origin: 'https://evil.example' } });
  assert.equal(stranger.headers['access-control-allow-origin'], undefined);
  // A preflight from an origin not allowed goes on to the app (Istio's default, unmatchedPreflights FORWARD).
  assert.equal((await preflight('https://evil.example')).json?.name, 'website');
  await remove('istio/cors.yaml');
});

test('gateway-api/cors.yaml: the CORS filter with a wildcard origin', async () => {
  await apply('gateway-api/cors.yaml');
  await eventually(async () => {
    const pre = await preflight('https://shop.example.org');
    assert.equal(pre.json, undefined, 'answered by the proxy, not the app');
    assert.equal(pre.headers['access-control-allow-origin'], 'https://shop.example.org');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET,PUT');
    assert.equal(pre.headers['access-control-max-age'], '600');
    assert.equal(pre.headers['access-control-allow-credentials'], undefined);
  });
  const other = await request(outbound, { host: 'website', headers: { origin: 'https://example.org' } });
  assert.equal(other.headers['access-control-allow-origin'], undefined, 'the wildcard needs a label');
});
