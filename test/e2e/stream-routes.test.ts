// Gateway API TCPRoute through a real weft gateway into a sidecar'd TCP service (and the model of a TLSRoute).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pickFreePorts } from '../../src/run/ports.ts';
import { runCli } from '../helpers/cli.ts';
import { type Echo, startTcpEcho } from '../helpers/echo.ts';
import { eventually } from '../helpers/eventually.ts';
import { startSidecar } from '../helpers/mesh-load.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+)/;
const GATEWAY_READY = /weft gateway ready: .* admin 127\.0\.0\.1:(\d+)/;

let dir: string;
let server: string;
let edgePort: number;
const procs: WeftProcess[] = [];
let db: Echo;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-tcproute-'));
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
  db = await startTcpEcho('db');
  [edgePort] = await pickFreePorts(1);
  await startSidecar(
    [server],
    ['--service', 'db', '--app-port', String(db.port), '--protocol', 'tcp', '--service-port', '5432'],
    procs,
  );
  procs.push(
    await startWeft(['gateway', '--name', 'edge', '--port', `7000=${edgePort}/tcp`, '--server', server], {
      ready: GATEWAY_READY,
      timeoutMs: 60_000,
    }),
  );
});

after(async () => {
  for (const p of procs.slice(1)) await p.stop('SIGTERM');
  await procs[0]?.stop('SIGTERM');
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

/** Connects to the gateway, sends `ping`, half-closes, and resolves with everything read back. */
function exchange(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    socket.setTimeout(5_000, () =>
      socket.destroy(new Error('no answer within 5 s: the gateway did not proxy')),
    );
    socket.on('connect', () => socket.end('ping'));
    socket.setEncoding('utf8').on('data', (d: string) => (got += d));
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
  });
}

test('a TCPRoute on a TCP listener proxies connections to its backend Service', async () => {
  const file = join(dir, 'tcp.yaml');
  await writeFile(
    file,
    `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: weft
  listeners:
  - {name: postgres, port: 7000, protocol: TCP}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: db}
spec:
  parentRefs: [{name: edge, sectionName: postgres}]
  rules:
  - backendRefs: [{name: db, port: 5432}]
`,
  );
  const r = await runCli(['apply', '-f', file, '--server', server]);
  assert.equal(r.code, 0, r.stderr);
  await eventually(async () => assert.equal(await exchange(edgePort), 'db: ping'));
});
