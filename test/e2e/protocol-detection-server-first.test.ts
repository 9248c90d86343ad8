// Server-first protocols through default-started sidecars: the app's greeting reaches the client at once.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { eventually } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { startSidecar } from '../helpers/mesh-load.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+)/;
/** Bound on one exchange: the greeting must come long before the 5 s/15 s detection timeouts. */
const EXCHANGE_MS = 4_000;

let dir: string;
let outbound: number;
/** The greeter's sidecar inbound port (PERMISSIVE by default: plaintext accepted too). */
let greetInbound: number;
/** The STRICT greeter's sidecar inbound port. */
let vaultInbound: number;
let greeter: { port: number; accepted: number; close(): Promise<void> };
/** A second greeter, behind a sidecar whose port is STRICT mTLS (as `web`'s is). */
let vault: { port: number; accepted: number; close(): Promise<void> };
let web: { port: number; accepted: number; close(): Promise<void> };
const procs: WeftProcess[] = [];

/** An SMTP-like server: `220 ready` on connect, then echoes each line; counts its connections. */
async function startGreeter(): Promise<typeof greeter> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, accepted: 0, close: async () => {} };
  const server = net.createServer((s) => {
    state.accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.write('220 ready\r\n');
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as net.AddressInfo).port;
  state.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return state;
}

/** An HTTP/1.1 app that answers 200 and counts the connections it accepts. */
async function startCountingHttp(): Promise<typeof web> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ httpVersion: req.httpVersion }));
  });
  const state = { port: 0, accepted: 0, close: async () => {} };
  server.on('connection', () => state.accepted++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as net.AddressInfo).port;
  state.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-server-first-'));
  const cp = await startWeft(
    ['control-plane', '--data-dir', join(dir, 'data'), '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0'],
    { ready: CP_READY },
  );
  procs.push(cp);
  const server = cp.ready[1];
  [greeter, vault, web] = await Promise.all([startGreeter(), startGreeter(), startCountingHttp()]);
  const strict = join(dir, 'strict.yaml');
  await writeFile(
    strict,
    ['vault', 'web']
      .map(
        (app) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ${app}, namespace: default}
spec:
  selector: {matchLabels: {app: ${app}}}
  mtls: {mode: STRICT}
`,
      )
      .join('---\n'),
  );
  const applied = await runCli(['apply', '-f', strict, '--server', server]);
  assert.equal(applied.code, 0, applied.stderr);
  // No --protocol anywhere: every port is detected.
  const [client, greet, , strictGreet] = await Promise.all([
    startSidecar([server], ['--service', 'client', '--app-port', '1'], procs),
    startSidecar(
      [server],
      ['--service', 'greet', '--app-port', String(greeter.port), '--service-port', '2525'],
      procs,
    ),
    startSidecar([server], ['--service', 'web', '--app-port', String(web.port)], procs),
    startSidecar(
      [server],
      ['--service', 'vault', '--app-port', String(vault.port), '--service-port', '2525'],
      procs,
    ),
  ]);
  outbound = client.out;
  greetInbound = Number(/ inbound [^ ]+:(\d+)/.exec(greet.proc.ready[0])?.[1]);
  vaultInbound = Number(/ inbound [^ ]+:(\d+)/.exec(strictGreet.proc.ready[0])?.[1]);
});

after(async () => {
  for (const p of procs.slice(1)) await p.stop('SIGTERM');
  await procs[0]?.stop('SIGTERM');
  await Promise.all([greeter?.close(), vault?.close(), web?.close()]);
  await rm(dir, { recursive: true, force: true });
});

/**
 * Opens `CONNECT greet:2525` on the client sidecar, waits for the greeting without sending a byte,
 * then sends a line and reads its echo. Resolves with the ms from the 200 to the greeting.
 */
function greetAndEcho(service = 'greet'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.connect(outbound, '127.0.0.1');
    let got = '';
    let tunnelAt = 0;
    let greetedAt = 0;
    const timer = setTimeout(() => {
      s.destroy();
      reject(
        new Error(
          `no greeting/echo within ${EXCHANGE_MS} ms through the sidecars; got ${JSON.stringify(got)}`,
        ),
      );
    }, EXCHANGE_MS);
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.write(`CONNECT ${service}:2525 HTTP/1.1\r\nHost: ${service}:2525\r\n\r\n`);
    s.on('data', (d) => {
      got += d.toString('latin1');
      const head = got.indexOf('\r\n\r\n');
      if (head < 0) return;
      if (!got.startsWith('HTTP/1.1 200')) {
        clearTimeout(timer);
        s.destroy();
        return reject(new Error(`CONNECT answered ${got.slice(0, 40)}`));
      }
      if (tunnelAt === 0) tunnelAt = performance.now();
      const body = got.slice(head + 4);
      if (greetedAt === 0 && body.startsWith('220 ready\r\n')) {
        greetedAt = performance.now();
        s.write('hello\r\n');
      }
      if (body === '220 ready\r\nhello\r\n') {
        clearTimeout(timer);
        s.end();
        resolve(greetedAt - tunnelAt);
      }
    });
  });
}

test('a server-first app behind a default-started sidecar greets a client through mTLS at once', async () => {
  await eventually(async () => {
    await greetAndEcho();
  });
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) delays.push(await greetAndEcho());
  console.log(`greeting after the tunnel opened, ms: ${delays.map((d) => d.toFixed(1)).join(' ')}`);
});

test('under STRICT mTLS, a server-first app greets a raw TCP client through two default-started sidecars', async () => {
  await eventually(async () => {
    await greetAndEcho('vault');
  });
  const before = vault.accepted;
  const strict: number[] = [];
  const permissive: number[] = [];
  for (let i = 0; i < 5; i++) {
    strict.push(await greetAndEcho('vault'));
    permissive.push(await greetAndEcho('greet'));
  }
  console.log(
    `greeting after the tunnel opened, ms: STRICT ${strict.map((d) => d.toFixed(1)).join(' ')}; PERMISSIVE ${permissive.map((d) => d.toFixed(1)).join(' ')}`,
  );
  assert.equal(vault.accepted, before + 5, 'one app connection per tunnel');
  // Plaintext straight to a STRICT port is closed before the app is reached.
  const closed = await new Promise<string>((resolve) => {
    const s = net.connect(vaultInbound, '127.0.0.1');
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => resolve(got));
    s.write('hello\r\n');
  });
  assert.equal(closed, '', 'no greeting over plaintext');
  assert.equal(vault.accepted, before + 5);
});

test('an HTTP client opens no extra connection to its app; one tunnel is one app connection', async () => {
  await eventually(async () => {
    const res = await request(outbound, { host: 'web', path: '/x', headers: { connection: 'close' } });
    assert.equal(res.status, 200);
    assert.equal(res.json?.httpVersion, '1.1');
  });
  const http0 = web.accepted;
  for (let i = 0; i < 5; i++) {
    const res = await request(outbound, { host: 'web', path: '/x', headers: { connection: 'close' } });
    assert.equal(res.status, 200);
  }
  // The server sidecar keeps one kept-alive connection to the app; a speculative connect would add one per request.
  assert.ok(web.accepted - http0 <= 1, `the app saw ${web.accepted - http0} new connections for 5 requests`);
  const greet0 = greeter.accepted;
  await greetAndEcho();
  assert.equal(greeter.accepted, greet0 + 1, 'one client connection, one app connection');
});

/** A plaintext client straight to the greeter's inbound port; `first`: bytes it sends before any greeting. */
function direct(first: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(greetInbound, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(
        new Error(
          `no greeting/echo within ${EXCHANGE_MS} ms from the inbound port; got ${JSON.stringify(got)}`,
        ),
      );
    }, EXCHANGE_MS);
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (first) s.write(first);
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got === '220 ready\r\n' && !first) s.write('bye\r\n');
      if (got.endsWith(first ? first : 'bye\r\n') && got.startsWith('220 ready\r\n') && got.length > 11) {
        clearTimeout(timer);
        s.end();
        resolve(got);
      }
    });
  });
}

test('plaintext on the inbound port: a silent client gets the greeting, a client that speaks first is relayed once', async () => {
  assert.ok(greetInbound > 0, 'the inbound port from the ready line');
  const before = greeter.accepted;
  assert.equal(await direct(''), '220 ready\r\nbye\r\n');
  // Opaque client-first bytes: detected as TCP, relayed over one app connection.
  assert.equal(await direct('EHLO x\r\n'), '220 ready\r\nEHLO x\r\n');
  assert.equal(greeter.accepted, before + 2, 'one app connection per client connection');
});
