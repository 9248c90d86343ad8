// weft gateway in a real mesh: Istio Gateway + VirtualService and Gateway API Gateway + HTTPRoute routing into sidecars, HTTPS SIMPLE, PASSTHROUGH by SNI, httpsRedirect.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pickFreePorts } from '../../src/run/ports.ts';
import { runCli } from '../helpers/cli.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { eventually } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { makeCertificates } from '../helpers/openssl-certs.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds/;
const PROXY_READY =
  /weft proxy ready: .* inbound 0\.0\.0\.0:(\d+) outbound 127\.0\.0\.1:(\d+) admin 127\.0\.0\.1:(\d+)/;
const GATEWAY_READY = /weft gateway ready: .* admin 127\.0\.0\.1:(\d+)/;

let dir: string;
let server: string;
const procs: WeftProcess[] = [];
const apps: Echo[] = [];
let secureBackend: https.Server | undefined;
/** web's sidecar outbound port: a mesh client. */
let webOutbound: number;
/** web's sidecar inbound port: where other sidecars (and the gateways) reach web. */
let webInbound: number;
/** Local ports of the ingress gateway for its service ports 80, 443 and 8443, and of the Gateway API gateway. */
let [p80, p443, p8443, p9443, pWeb] = [0, 0, 0, 0, 0];
let certs: { ca: string; cert: string; key: string };
let backendCerts: { ca: string; cert: string; key: string };
let clientCerts: { ca: string; cert: string; key: string };

function weft(args: string[], ready: RegExp): Promise<WeftProcess> {
  // The Gateways and DestinationRules of these tests name TLS files in the test's temp directory.
  return startWeft(args, { ready, timeoutMs: 60_000, env: { WEFT_TLS_FILE_DIRS: dir } }).then((p) => {
    procs.push(p);
    return p;
  });
}

function sidecar(service: string, appPort: number, extra: string[] = []): Promise<WeftProcess> {
  return weft(
    [
      'proxy',
      '--server',
      server,
      '--service',
      service,
      '--app-port',
      String(appPort),
      '--inbound-port',
      '0',
      '--outbound-port',
      '0',
      '--admin-port',
      '0',
      ...extra,
    ],
    PROXY_READY,
  );
}

async function apply(yaml: string): Promise<void> {
  const file = join(dir, `apply-${Date.now()}-${Math.random()}.yaml`);
  await writeFile(file, yaml);
  const r = await runCli(['apply', '-f', file, '--server', server]);
  assert.equal(r.code, 0, r.stderr);
}

/** `curl` as a user runs it; resolves with stdout (it fails the test when curl fails). */
function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-sS', '--max-time', '10', ...args], (err, stdout, stderr) =>
      err ? reject(new Error(`curl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
}

/** Which echo app answered a request to `port` with this Host and path. */
async function who(port: number, host: string, path = '/'): Promise<string> {
  const r = await request(port, { host, path });
  return r.status === 200
    ? String(r.json?.name)
    : `${r.status} ${r.headers['x-weft-response-flags'] ?? ''}`.trim();
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-e2e-gateway-'));
  certs = makeCertificates(dir, 'gateway', [
    'shop.example.com',
    'secure-shop.example.com',
    'mtls.example.com',
  ]);
  clientCerts = makeCertificates(dir, 'client', ['client.example.com']);
  backendCerts = makeCertificates(dir, 'backend', ['secure.example.com']);
  const cp = await weft(
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
    CP_READY,
  );
  server = cp.ready[1];
  const [web, api] = await Promise.all([startHttpEcho('web'), startHttpEcho('api')]);
  apps.push(web, api);
  // A TLS server with its own certificate: PASSTHROUGH must deliver the client's TLS to it untouched.
  const [cert, key] = await Promise.all([readFile(backendCerts.cert), readFile(backendCerts.key)]);
  secureBackend = https.createServer({ cert, key }, (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        name: 'secure',
        sni: (req.socket as net.Socket & { servername?: string }).servername,
      }),
    );
  });
  await new Promise<void>((resolve) => secureBackend?.listen(0, '127.0.0.1', resolve));
  const securePort = (secureBackend.address() as net.AddressInfo).port;
  [p80, p443, p8443, p9443, pWeb] = await pickFreePorts(5);
  const started = await Promise.all([
    sidecar('web', web.port),
    sidecar('api', api.port),
    sidecar('secure', securePort, ['--protocol', 'tcp', '--service-port', '443']),
    weft(
      [
        'gateway',
        '--name',
        'ingress',
        '--namespace',
        'istio-system',
        '--label',
        'istio=ingressgateway',
        '--port',
        `80=${p80}`,
        '--port',
        `443=${p443}/https`,
        '--port',
        `8443=${p8443}/tls`,
        '--port',
        `9443=${p9443}/https`,
        '--server',
        server,
      ],
      GATEWAY_READY,
    ),
    // Named unlike any service: a gateway registers the service <name>.<namespace> itself.
    weft(['gateway', '--name', 'public', '--port', `8080=${pWeb}`, '--server', server], GATEWAY_READY),
  ]);
  webInbound = Number(started[0].ready[1]);
  webOutbound = Number(started[0].ready[2]);
});

after(async () => {
  for (const p of procs.slice(1)) await p.stop('SIGTERM');
  await procs[0]?.stop('SIGTERM');
  for (const a of apps) await a.close();
  await new Promise((resolve) => (secureBackend ? secureBackend.close(resolve) : resolve(undefined)));
  await rm(dir, { recursive: true, force: true });
});

describe('Istio Gateway + VirtualService', () => {
  before(async () => {
    await apply(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [shop.example.com, "*.api.example.com"]
  - port: {number: 80, name: http-redirect, protocol: HTTP}
    hosts: [secure-shop.example.com]
    tls: {httpsRedirect: true}
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [shop.example.com, secure-shop.example.com]
    tls: {mode: SIMPLE, serverCertificate: ${certs.cert}, privateKey: ${certs.key}}
  - port: {number: 8443, name: tls, protocol: TLS}
    hosts: [secure.example.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 9443, name: https-mutual, protocol: HTTPS}
    hosts: [mtls.example.com]
    tls:
      mode: MUTUAL
      serverCertificate: ${certs.cert}
      privateKey: ${certs.key}
      caCertificates: ${clientCerts.ca}
      subjectAltNames: [client.example.com]
      minProtocolVersion: TLSV1_3
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop.example.com, secure-shop.example.com, mtls.example.com]
  gateways: [istio-system/ingress]
  http:
  - match: [{uri: {prefix: /api}}]
    route: [{destination: {host: api}}]
  - route: [{destination: {host: web}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api-hosts}
spec:
  hosts: ["*.api.example.com"]
  gateways: [istio-system/ingress]
  http:
  - route: [{destination: {host: api, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: secure}
spec:
  hosts: [secure.example.com]
  gateways: [istio-system/ingress]
  tls:
  - match: [{sniHosts: [secure.example.com], port: 8443}]
    route: [{destination: {host: secure, port: {number: 443}}}]
`);
  });

  test('routes by host and path to mesh services; unknown hosts get no route', async () => {
    await eventually(async () => {
      assert.equal(await who(p80, 'shop.example.com', '/'), 'web');
      assert.equal(await who(p80, `shop.example.com:${p80}`, '/api/items'), 'api');
      assert.equal(await who(p80, 'v1.api.example.com', '/anything'), 'api');
      assert.equal(await who(p80, 'other.example.com', '/'), '404 NR');
    });
  });

  test('HTTPS SIMPLE terminates with the certificate files of the Gateway (curl --cacert --resolve)', async () => {
    await eventually(async () => {
      const body = await curl([
        '--cacert',
        certs.ca,
        '--resolve',
        `shop.example.com:${p443}:127.0.0.1`,
        `https://shop.example.com:${p443}/api/x`,
      ]);
      const reply = JSON.parse(body);
      assert.equal(reply.name, 'api');
      assert.equal(reply.headers['x-forwarded-proto'], 'https');
    });
    // HTTP/2 over TLS (ALPN h2) works too.
    const h2 = await curl([
      '--http2',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{http_version}',
      '--cacert',
      certs.ca,
      '--resolve',
      `shop.example.com:${p443}:127.0.0.1`,
      `https://shop.example.com:${p443}/`,
    ]);
    assert.equal(h2, '200 2');
  });

  test('MUTUAL requires a client certificate from caCertificates; minProtocolVersion is enforced', async () => {
    const target = ['--resolve', `mtls.example.com:${p9443}:127.0.0.1`, `https://mtls.example.com:${p9443}/`];
    await eventually(async () => {
      const body = await curl([
        '--cacert',
        certs.ca,
        '--cert',
        clientCerts.cert,
        '--key',
        clientCerts.key,
        ...target,
      ]);
      assert.equal(JSON.parse(body).name, 'web');
    });
    await assert.rejects(curl(['--cacert', certs.ca, ...target]), 'no client certificate: refused');
    await assert.rejects(
      curl([
        '--cacert',
        certs.ca,
        '--cert',
        clientCerts.cert,
        '--key',
        clientCerts.key,
        '--tls-max',
        '1.2',
        ...target,
      ]),
      'TLS 1.2 is below minProtocolVersion',
    );
  });

  test('httpsRedirect answers 301 to https on the HTTPS server port', async () => {
    await eventually(async () => {
      const r = await request(p80, { host: 'secure-shop.example.com', path: '/cart?id=1' });
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, `https://secure-shop.example.com:${p443}/cart?id=1`);
    });
    const followed = await curl([
      '-L',
      '--cacert',
      certs.ca,
      '--resolve',
      `secure-shop.example.com:${p80}:127.0.0.1`,
      '--resolve',
      `secure-shop.example.com:${p443}:127.0.0.1`,
      `http://secure-shop.example.com:${p80}/`,
    ]);
    assert.equal(JSON.parse(followed).name, 'web', followed);
  });

  test('PASSTHROUGH routes TLS by SNI to a TLS backend without terminating it', async () => {
    await eventually(async () => {
      const body = await curl([
        '--cacert',
        backendCerts.ca,
        '--resolve',
        `secure.example.com:${p8443}:127.0.0.1`,
        `https://secure.example.com:${p8443}/`,
      ]);
      assert.deepEqual(JSON.parse(body), { name: 'secure', sni: 'secure.example.com' });
    });
    // Another server name matches no chain: the connection is closed.
    await assert.rejects(
      curl([
        '--cacert',
        backendCerts.ca,
        '--resolve',
        `other.example.com:${p8443}:127.0.0.1`,
        `https://other.example.com:${p8443}/`,
      ]),
    );
  });
});

describe('Gateway API Gateway + HTTPRoute', () => {
  before(async () => {
    await apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public}
spec:
  gatewayClassName: weft
  listeners:
  - {name: http, port: 8080, protocol: HTTP, hostname: "*.example.org"}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: site}
spec:
  parentRefs: [{name: public}]
  hostnames: [www.example.org]
  rules:
  - backendRefs: [{name: web, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api-v2}
spec:
  parentRefs: [{name: public, sectionName: http}]
  hostnames: [www.example.org]
  rules:
  - matches: [{path: {type: PathPrefix, value: /v2}}]
    filters:
    - {type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-route, value: api-v2}]}}
    backendRefs: [{name: api, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /docs}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /manual}, statusCode: 302}
`);
  });

  test('the Gateway named by weft gateway --name routes its HTTPRoutes by hostname and path precedence', async () => {
    await eventually(async () => {
      const r = await request(pWeb, { host: 'www.example.org', path: '/v2/items?q=1' });
      assert.equal(
        r.json?.name,
        'api',
        'the newer route with the longer prefix wins over the older catch-all',
      );
      assert.equal(r.json?.url, '/items?q=1');
      const headers = r.json?.headers as Record<string, string> | undefined;
      assert.equal(headers?.['x-route'], 'api-v2');
    });
    assert.equal((await request(pWeb, { host: 'www.example.org', path: '/v2' })).json?.url, '/');
    assert.equal(await who(pWeb, 'www.example.org', '/v2x'), 'web', 'PathPrefix matches whole path elements');
    const moved = await request(pWeb, { host: 'www.example.org', path: '/docs/setup/tls?v=2' });
    assert.equal(moved.status, 302);
    assert.equal(moved.headers.location, 'http://www.example.org/manual/setup/tls?v=2');
    assert.equal(
      (await request(pWeb, { host: 'www.example.org', path: '/docs' })).headers.location,
      'http://www.example.org/manual',
    );
    assert.equal(await who(pWeb, 'www.example.org', '/'), 'web');
    assert.equal(await who(pWeb, 'shop.example.org', '/'), '404 NR');
  });

  test('an HTTPRoute with a Service parent routes mesh traffic (GAMMA)', async () => {
    await apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web-canary}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
  rules:
  - matches: [{headers: [{name: x-canary, value: "1"}]}]
    backendRefs: [{name: api, port: 80}]
  - backendRefs: [{name: web, port: 80}]
`);
    await eventually(async () => {
      const canary = await request(webOutbound, { host: 'web', headers: { 'x-canary': '1' } });
      assert.equal(canary.json?.name, 'api');
    });
    assert.equal(await who(webOutbound, 'web'), 'web');
  });
});

describe('mutual TLS into the mesh', () => {
  test('with STRICT mTLS on the services, the gateway still reaches them (it has a workload identity)', async () => {
    await apply(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec:
  mtls: {mode: STRICT}
`);
    // Plaintext to web's sidecar is refused from now on...
    await eventually(async () => {
      await assert.rejects(request(webInbound, { host: 'web' }), 'plaintext refused under STRICT');
    });
    // ...and the ingress gateway still routes to it, over mTLS.
    await eventually(async () => {
      assert.equal(await who(p80, 'shop.example.com', '/'), 'web');
      assert.equal(await who(pWeb, 'www.example.org', '/'), 'web');
    });
  });
});

describe('weft gateway ports', () => {
  test('a port another process holds fails the start at once, naming the port', async (t) => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '0.0.0.0', () => resolve()));
    t.after(() => holder.close());
    const taken = (holder.address() as net.AddressInfo).port;
    const r = await runCli(['gateway', '--name', 'busy', '--port', `8080=${taken}`, '--server', server]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot listen on 0\\.0\\.0\\.0:${taken}`));
  });
});
