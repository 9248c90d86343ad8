// The environment `weft run` gives its app makes Node's fetch and http.get use the sidecar for mesh names, not for loopback.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { appEnvironment } from '../../src/run/app-env.ts';
import { pickFreePorts } from '../../src/run/ports.ts';

/**
 * A stand-in for the sidecar's outbound listener that records what reaches it. http.get sends
 * absolute-form requests; fetch (undici) opens a CONNECT tunnel even for http:// URLs, and the
 * requests inside the tunnel are answered too.
 */
async function recordingProxy(t: TestContext): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = [];
  const inner = http.createServer((req, res) => res.end(`tunnelled ${req.url}`));
  const proxy = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end(`proxied ${req.url}`);
  });
  proxy.on('connect', (req: http.IncomingMessage, socket: Socket) => {
    seen.push(`CONNECT ${req.url}`);
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    inner.emit('connection', socket);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    proxy.closeAllConnections();
    proxy.close();
    inner.closeAllConnections();
  });
  return { port: (proxy.address() as AddressInfo).port, seen };
}

/** Runs `node -e script` with `env`; resolves with its stdout once it exits (killed after 20 s). */
async function runNode(t: TestContext, script: string, env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(process.execPath, ['-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  assert.equal(code, 0, stderr);
  return stdout;
}

/** The app: its own server on PORT answers `direct`; it calls mesh names and itself both ways and prints what it got. */
const APP = `
const http = require('node:http');
const get = (url) => new Promise((resolve, reject) =>
  http.get(url, (res) => { let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => resolve(b)); }).on('error', reject));
const port = process.env.PORT;
http.createServer((req, res) => res.end('direct ' + req.url)).listen(Number(port), '127.0.0.1', async () => {
  const results = [
    await (await fetch('http://reviews/fetch')).text(),
    await get('http://reviews.default:9080/http'),
    await (await fetch('http://127.0.0.1:' + port + '/self-fetch')).text(),
    await (await fetch('http://localhost:' + port + '/self-fetch-localhost')).text(),
    await get('http://127.0.0.1:' + port + '/self-http'),
    await get('http://localhost:' + port + '/self-http-localhost'),
  ];
  console.log(JSON.stringify(results));
  process.exit(0);
});
`;

test('mesh names go through HTTP_PROXY (fetch as a CONNECT tunnel, http.get in absolute form); the app reaches itself directly', async (t) => {
  const proxy = await recordingProxy(t);
  const [appPort] = await pickFreePorts(1);
  const env = appEnvironment(
    { PATH: process.env.PATH, HTTP_PROXY: 'http://corporate.invalid:3128', NO_PROXY: 'intranet.example' },
    { appPort, outboundPort: proxy.port, service: 'productpage', namespace: 'default', version: 'v1' },
  );
  assert.equal(env.NO_PROXY, 'localhost,127.0.0.1,::1,intranet.example', "the user's NO_PROXY is kept");
  assert.equal(env.HTTP_PROXY, `http://127.0.0.1:${proxy.port}`, 'the sidecar replaces an inherited proxy');
  const stdout = await runNode(t, APP, env);
  assert.deepEqual(JSON.parse(stdout), [
    'tunnelled /fetch',
    'proxied http://reviews.default:9080/http',
    'direct /self-fetch',
    'direct /self-fetch-localhost',
    'direct /self-http',
    'direct /self-http-localhost',
  ]);
  assert.deepEqual(proxy.seen, ['CONNECT reviews:80', 'http://reviews.default:9080/http']);
});

test('without NODE_USE_ENV_PROXY, Node 24 ignores HTTP_PROXY (why weft run sets it)', async (t) => {
  const proxy = await recordingProxy(t);
  const env = appEnvironment(
    { PATH: process.env.PATH },
    { appPort: 1, outboundPort: proxy.port, service: 's', namespace: 'default', version: 'v1' },
  );
  delete env.NODE_USE_ENV_PROXY;
  const script = `
const http = require('node:http');
const viaHttp = new Promise((resolve) => http.get('http://reviews.invalid/', () => resolve('answered')).on('error', (e) => resolve(e.code)));
const viaFetch = fetch('http://reviews.invalid/').then(() => 'answered', (e) => e.cause?.code ?? e.message);
Promise.all([viaFetch, viaHttp]).then((r) => console.log(JSON.stringify(r)));
`;
  const stdout = await runNode(t, script, env);
  // Both tried to resolve the name themselves (ENOTFOUND, or EAI_AGAIN without DNS) instead of asking the proxy.
  for (const outcome of JSON.parse(stdout)) assert.match(outcome, /^(ENOTFOUND|EAI_AGAIN)$/);
  assert.deepEqual(proxy.seen, []);
});
