// Linkerd HTTPLocalRateLimitPolicy on real sidecars over mTLS: per-identity limits keyed by the verified client identity.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { type Reply, request } from '../helpers/http-client.ts';
import { startSidecar } from '../helpers/mesh-load.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+)/;

let dir: string;
let server: string;
let app: http.Server;
/** Outbound ports of the two clients' sidecars (ServiceAccounts `batch` and `vip`). */
let batch: number;
let vip: number;
const procs: WeftProcess[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-linkerd-rl-'));
  const cp = await startWeft(
    ['control-plane', '--data-dir', join(dir, 'data'), '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0'],
    { ready: CP_READY },
  );
  procs.push(cp);
  server = cp.ready[1];
  app = http.createServer((req, res) => {
    req.resume();
    res.end('ok');
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const appPort = (app.address() as net.AddressInfo).port;
  const file = join(dir, 'policy.yaml');
  await writeFile(
    file,
    `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: emoji, namespace: default}
spec:
  selector: {matchLabels: {app: emoji}}
  mtls: {mode: STRICT}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: HTTPLocalRateLimitPolicy
metadata: {name: emoji, namespace: default}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: emoji}
  total: {requestsPerSecond: 1000}
  identity: {requestsPerSecond: 2}
  overrides:
  - requestsPerSecond: 500
    clientRefs: [{kind: ServiceAccount, name: vip}]
`,
  );
  const applied = await runCli(['apply', '-f', file, '--server', server]);
  assert.equal(applied.code, 0, applied.stderr);
  const [b, v] = await Promise.all([
    startSidecar([server], ['--service', 'web', '--service-account', 'batch', '--app-port', '1'], procs),
    startSidecar([server], ['--service', 'web2', '--service-account', 'vip', '--app-port', '1'], procs),
    startSidecar([server], ['--service', 'emoji', '--app-port', String(appPort)], procs),
  ]);
  batch = b.out;
  vip = v.out;
});

after(async () => {
  for (const p of procs.slice(1)) await p.stop('SIGTERM');
  await procs[0]?.stop('SIGTERM');
  app?.closeAllConnections();
  await new Promise<void>((r) => (app ? app.close(() => r()) : r()));
  await rm(dir, { recursive: true, force: true });
});

/** `n` requests at once through the sidecar at `out`: a burst, far above 2 per second however slow the machine. */
function burst(out: number, n: number): Promise<Reply[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => request(out, { host: 'emoji', path: `/r${i}` })));
}

test('two client identities over mTLS: the one past its per-identity rate gets 429, the overridden one does not', async () => {
  await eventuallyTrue('both clients reach emoji', async () => {
    const [a, b] = await Promise.all([request(batch, { host: 'emoji' }), request(vip, { host: 'emoji' })]);
    return a.status === 200 && b.status === 200;
  });
  // Let batch's bucket (2 rps, 2 at once) fill again after the warm-up.
  await new Promise((r) => setTimeout(r, 1_200));
  const [batchReplies, vipReplies] = await Promise.all([burst(batch, 12), burst(vip, 12)]);
  const limited = batchReplies.map((r) => r.status);
  const free = vipReplies.map((r) => r.status);
  console.log(`# batch (2 rps): ${limited.join(' ')}; vip (override 500 rps): ${free.join(' ')}`);
  assert.ok(
    limited.every((s) => s === 200 || s === 429),
    `batch got only 200 and 429: ${limited.join(' ')}`,
  );
  assert.ok(limited.filter((s) => s === 200).length >= 2, 'a second of requests at once is allowed');
  assert.ok(limited.includes(429), `batch was limited: ${limited.join(' ')}`);
  assert.deepEqual(free, Array(12).fill(200), 'vip is under its override, not the identity limit');
  const refused = batchReplies.find((r) => r.status === 429)!;
  assert.equal(refused.body.toString(), 'per-identity rate limit exceeded: 2rps');
  assert.equal(refused.headers['x-weft-response-flags'], 'RL');
});
