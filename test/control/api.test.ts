// The control-plane HTTP API against a real ControlPlane on port 0 with a temporary data directory.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Resource } from '../../src/config/resource.ts';
import type { ApplyResponse, DeleteResponse, ListResponse, WatchEvent } from '../../src/control/api/types.ts';
import { ControlPlane, type ControlPlaneParts } from '../../src/control/control-plane.ts';
import type { XdsServer } from '../../src/control/xds/types.ts';
import type { ConfigIssue } from '../../src/errors.ts';
import type { MeshSnapshot } from '../../src/model/types.ts';
import { setLogLevel } from '../../src/observe/log.ts';

setLogLevel('silent');

type TestContext = { after: (fn: () => Promise<void> | void) => void };

async function startControlPlane(t: TestContext, parts: ControlPlaneParts = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'weft-api-'));
  const cp = new ControlPlane(
    {
      dataDir,
      api: { host: '127.0.0.1', port: 0 },
      xds: { host: '127.0.0.1', port: 0 },
      pushDebounceMs: 10,
      registryGraceMs: 50,
    },
    parts,
  );
  const { apiUrl } = await cp.start();
  t.after(async () => {
    await cp.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { cp, apiUrl, dataDir };
}

/** The fields these tests read from error and readiness answers. */
interface Answer {
  status: string;
  error: { code: string; message: string; issues: ConfigIssue[] };
}

async function call<T = Answer>(
  apiUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(`${apiUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), headers: res.headers };
}

const REVIEWS_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
      weight: 100
`;

const REVIEWS_DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels:
      version: v1
`;

const BAD_WEIGHT_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - route:
    - destination:
        host: ratings
      weight: lots
`;

test('readiness, health, and 404/405 JSON errors for unknown paths and methods', async (t) => {
  const { apiUrl } = await startControlPlane(t);
  assert.deepEqual((await call(apiUrl, 'GET', '/ready')).body, { status: 'ready' });
  assert.equal((await call(apiUrl, 'GET', '/healthz')).status, 200);

  const unknown = await call(apiUrl, 'GET', '/api/v1/nope');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, 'WEFT_NOT_FOUND');

  const wrongMethod = await call(apiUrl, 'PUT', '/api/v1/apply', {});
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.body.error.code, 'WEFT_METHOD_NOT_ALLOWED');
  assert.equal(wrongMethod.headers.get('allow'), 'POST');
});

test('apply creates, re-apply is unchanged, a change is configured; get and list by any alias', async (t) => {
  const { apiUrl } = await startControlPlane(t);
  const sources = [{ file: 'reviews.yaml', text: `${REVIEWS_VS}---\n${REVIEWS_DR}` }];
  const first = await call<ApplyResponse>(apiUrl, 'POST', '/api/v1/apply', { sources });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const applied = first.body;
  assert.deepEqual(
    applied.results.map((r) => [r.kind, r.namespace, r.name, r.action, r.resourceVersion]),
    [
      ['VirtualService', 'default', 'reviews', 'created', '1'],
      ['DestinationRule', 'default', 'reviews', 'created', '1'],
    ],
  );
  assert.equal(applied.results[1].source.document, 1);

  const again = (await call<ApplyResponse>(apiUrl, 'POST', '/api/v1/apply', { sources })).body;
  assert.deepEqual(
    again.results.map((r) => r.action),
    ['unchanged', 'unchanged'],
  );
  assert.equal(again.revision, 1, 'nothing was written');

  const changed = REVIEWS_VS.replace('subset: v1', 'subset: v2');
  const third = (
    await call<ApplyResponse>(apiUrl, 'POST', '/api/v1/apply', {
      sources: [{ file: 'vs.yaml', text: changed }],
    })
  ).body;
  assert.deepEqual(
    third.results.map((r) => [r.action, r.resourceVersion]),
    [['configured', '2']],
  );

  for (const alias of ['VirtualService', 'virtualservices', 'vs']) {
    const got = await call<Resource>(apiUrl, 'GET', `/api/v1/resources/${alias}/default/reviews`);
    assert.equal(got.status, 200, alias);
    assert.equal(got.body.metadata.resourceVersion, '2');
    assert.equal(got.body.metadata.generation, 2);
  }
  const list = (await call<ListResponse>(apiUrl, 'GET', '/api/v1/resources?kind=dr')).body;
  assert.equal(list.revision, 2);
  assert.deepEqual(
    list.items.map((r) => `${r.kind}/${r.metadata.name}`),
    ['DestinationRule/reviews'],
  );
  assert.equal((await call<ListResponse>(apiUrl, 'GET', '/api/v1/resources')).body.items.length, 2);
  assert.equal(
    (await call<ListResponse>(apiUrl, 'GET', '/api/v1/resources?kind=vs&namespace=other')).body.items.length,
    0,
  );

  const missing = await call(apiUrl, 'GET', '/api/v1/resources/vs/default/nope');
  assert.equal(missing.status, 404);
  const badKind = await call(apiUrl, 'GET', '/api/v1/resources?kind=frobnicator');
  assert.equal(badKind.status, 400);
  assert.match(badKind.body.error.message, /frobnicator/);
  assert.match(badKind.body.error.message, /VirtualService/, 'names the known kinds');
});

test('one bad document rejects the whole apply with file, document, line and field; nothing is stored', async (t) => {
  const { apiUrl, cp } = await startControlPlane(t);
  const res = await call(apiUrl, 'POST', '/api/v1/apply', {
    sources: [
      { file: 'good.yaml', text: REVIEWS_DR },
      { file: 'mixed.yaml', text: `${REVIEWS_VS}---\n${BAD_WEIGHT_VS}` },
    ],
  });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'WEFT_CONFIG_INVALID');
  const issue = res.body.error.issues.find((i) => i.file === 'mixed.yaml');
  assert.ok(issue, JSON.stringify(res.body));
  assert.equal(issue.document, 1);
  assert.ok(
    (issue.line ?? 0) > REVIEWS_VS.split('\n').length,
    `line ${issue.line} points into the second document`,
  );
  assert.match(issue.field, /weight/);
  assert.equal(cp.store.revision(), 0);
  assert.equal((await call<ListResponse>(apiUrl, 'GET', '/api/v1/resources')).body.items.length, 0);
});

test('malformed, wrongly shaped and oversized bodies are 4xx errors, never a crash', async (t) => {
  const { apiUrl } = await startControlPlane(t);
  const notJson = await call(apiUrl, 'POST', '/api/v1/apply', '{"sources": [');
  assert.equal(notJson.status, 400);
  assert.equal(notJson.body.error.code, 'WEFT_BAD_REQUEST');

  const noSources = await call(apiUrl, 'POST', '/api/v1/apply', { files: [] });
  assert.equal(noSources.status, 400);
  assert.match(noSources.body.error.message, /sources/);

  const wrongType = await call(apiUrl, 'POST', '/api/v1/apply', { sources: [{ file: 'x.yaml', text: 42 }] });
  assert.equal(wrongType.status, 400);
  assert.match(wrongType.body.error.message, /sources\[0\]\.text/);

  const huge = JSON.stringify({ sources: [{ file: 'big.yaml', text: 'x'.repeat(9 * 1024 * 1024) }] });
  const tooLarge = await call(apiUrl, 'POST', '/api/v1/apply', huge);
  assert.equal(tooLarge.status, 413);
  assert.equal(tooLarge.body.error.code, 'WEFT_REQUEST_TOO_LARGE');

  const badRevision = await call(apiUrl, 'GET', '/api/v1/watch?fromRevision=-1');
  assert.equal(badRevision.status, 400);

  // A client that announces a body and hangs up halfway.
  const { port } = new URL(apiUrl);
  await new Promise<void>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write('POST /api/v1/apply HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n{"sources":');
      setTimeout(() => socket.destroy(), 50);
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });

  assert.deepEqual((await call(apiUrl, 'GET', '/ready')).body, { status: 'ready' }, 'still serving');
});

test('delete by body is atomic and lists what is missing; delete by path removes one', async (t) => {
  const { apiUrl, cp } = await startControlPlane(t);
  await call(apiUrl, 'POST', '/api/v1/apply', {
    sources: [{ file: 'r.yaml', text: `${REVIEWS_VS}---\n${REVIEWS_DR}` }],
  });
  const partial = await call(apiUrl, 'POST', '/api/v1/delete', {
    sources: [
      { file: 'd.yaml', text: `${REVIEWS_DR}---\n${BAD_WEIGHT_VS.replace('weight: lots', 'weight: 100')}` },
    ],
  });
  assert.equal(partial.status, 404);
  assert.match(partial.body.error.message, /VirtualService default\/ratings/);
  assert.equal(cp.store.list().length, 2, 'nothing deleted');

  const byBody = await call<DeleteResponse>(apiUrl, 'POST', '/api/v1/delete', {
    sources: [{ file: 'd.yaml', text: REVIEWS_DR }],
  });
  assert.equal(byBody.status, 200);
  assert.deepEqual(
    byBody.body.results.map((r) => [r.kind, r.name, r.action]),
    [['DestinationRule', 'reviews', 'deleted']],
  );
  const byPath = await call<DeleteResponse>(
    apiUrl,
    'DELETE',
    '/api/v1/resources/virtualservice/default/reviews',
  );
  assert.equal(byPath.status, 200);
  assert.equal(byPath.body.revision, 3);
  assert.equal((await call(apiUrl, 'DELETE', '/api/v1/resources/vs/default/reviews')).status, 404);
  assert.equal(cp.store.list().length, 0);
});

/** Reads NDJSON lines from a watch response until `count` events arrived. */
async function readEvents(response: Response, count: number): Promise<WatchEvent[]> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: WatchEvent[] = [];
  let buffer = '';
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) if (line) events.push(JSON.parse(line));
  }
  await reader.cancel();
  return events;
}

test('watch streams changes as NDJSON, replays from a revision, and filters by kind', async (t) => {
  const { apiUrl } = await startControlPlane(t);
  await call(apiUrl, 'POST', '/api/v1/apply', { sources: [{ file: 'dr.yaml', text: REVIEWS_DR }] });

  const live = await fetch(`${apiUrl}/api/v1/watch?kind=vs`);
  assert.equal(live.status, 200);
  assert.match(live.headers.get('content-type')!, /ndjson/);
  const liveEvents = readEvents(live, 2);
  const drChange = await call(apiUrl, 'POST', '/api/v1/apply', {
    sources: [{ file: 'dr2.yaml', text: REVIEWS_DR.replace('version: v1', 'version: v9') }],
  });
  assert.equal(drChange.status, 200);
  await call(apiUrl, 'POST', '/api/v1/apply', { sources: [{ file: 'vs.yaml', text: REVIEWS_VS }] });
  await call(apiUrl, 'DELETE', '/api/v1/resources/vs/default/reviews');
  assert.deepEqual(
    (await liveEvents).map((e) => [e.type, e.revision, e.resource.kind]),
    [
      ['put', 3, 'VirtualService'],
      ['delete', 4, 'VirtualService'],
    ],
  );

  const replay = await fetch(`${apiUrl}/api/v1/watch?fromRevision=1`);
  assert.deepEqual(
    (await readEvents(replay, 3)).map((e) => [e.type, e.revision, e.resource.kind]),
    [
      ['put', 2, 'DestinationRule'],
      ['put', 3, 'VirtualService'],
      ['delete', 4, 'VirtualService'],
    ],
  );
});

test('snapshots are rebuilt after store and registry changes, bursts coalesced', async (t) => {
  const { apiUrl, cp } = await startControlPlane(t);
  const first = cp.snapshot();
  const seen: MeshSnapshot[] = [];
  cp.onSnapshot((s) => seen.push(s));
  await call(apiUrl, 'POST', '/api/v1/apply', {
    sources: [{ file: 'r.yaml', text: `${REVIEWS_VS}---\n${REVIEWS_DR}` }],
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(seen.length, 1);
  assert.ok(seen[0].version > first.version);
  assert.equal(seen[0].virtualServices.length, 1);

  for (let i = 0; i < 10; i++)
    cp.registry.join({
      uid: `proxy~reviews-${i}`,
      name: `reviews-${i}`,
      namespace: 'default',
      address: '127.0.0.1',
      labels: { app: 'reviews', version: 'v1' },
      serviceAccount: 'reviews',
      ports: {},
      weight: 1,
      sidecar: { inboundPort: 15006 + i },
      health: 'HEALTHY',
      source: 'proxy',
    });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(seen.length, 2, 'ten joins in one turn make one rebuild');
  assert.equal(seen[1].workloads.length, 10);
  assert.equal(cp.snapshot(), seen[1]);
});

/**
 * Stands in for the ADS server (src/control/xds/server.ts, written separately) to test the seam:
 * a real TCP listener that records the snapshots it is handed.
 */
class RecordingXdsServer implements XdsServer {
  readonly snapshots: MeshSnapshot[] = [];
  readonly #server: Server = createServer((socket) => socket.destroy());
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve) =>
      this.#server.listen(port, host, () => resolve((this.#server.address() as { port: number }).port)),
    );
  }
  setSnapshot(snapshot: MeshSnapshot): void {
    this.snapshots.push(snapshot);
  }
  status() {
    return [];
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

test('bootstrap is 503 without an xDS server and names the bound xDS address with one', async (t) => {
  const plain = await startControlPlane(t);
  const none = await call(plain.apiUrl, 'GET', '/api/v1/bootstrap');
  assert.equal(none.status, 503);
  assert.equal(none.body.error.code, 'WEFT_SERVER_UNAVAILABLE');

  const xds = new RecordingXdsServer();
  const withXds = await startControlPlane(t, { createXdsServer: () => xds });
  const { xdsAddress } = withXds.cp.addresses!;
  assert.match(xdsAddress!, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(xdsAddress, '127.0.0.1:0');
  const boot = await call<unknown>(withXds.apiUrl, 'GET', '/api/v1/bootstrap');
  assert.deepEqual(boot.body, {
    xdsAddress,
    trustDomain: 'cluster.local',
    controlPlaneIdentity: 'spiffe://cluster.local/ns/weft-system/sa/weft-control-plane',
  });
  assert.equal(xds.snapshots.length, 1, 'the first snapshot is handed over at start');
  await call(withXds.apiUrl, 'POST', '/api/v1/apply', { sources: [{ file: 'vs.yaml', text: REVIEWS_VS }] });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(xds.snapshots.length, 2);
});

test('a restart on the same data directory keeps every resource and its resourceVersion', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weft-api-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const config = {
    dataDir,
    api: { host: '127.0.0.1', port: 0 },
    xds: { host: '127.0.0.1', port: 0 },
    pushDebounceMs: 10,
    registryGraceMs: 50,
  };
  const first = new ControlPlane(config);
  const { apiUrl } = await first.start();
  await call(apiUrl, 'POST', '/api/v1/apply', {
    sources: [{ file: 'r.yaml', text: `${REVIEWS_VS}---\n${REVIEWS_DR}` }],
  });
  const before = (await call<ListResponse>(apiUrl, 'GET', '/api/v1/resources')).body;
  await first.stop();

  const second = new ControlPlane(config);
  t.after(() => second.stop());
  const restarted = await second.start();
  const after = (await call<ListResponse>(restarted.apiUrl, 'GET', '/api/v1/resources')).body;
  assert.deepEqual(after, before);
  assert.equal(second.snapshot().virtualServices.length, 1);
});
