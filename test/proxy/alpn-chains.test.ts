// Inbound chains picked by a client sidecar's ALPN (Istio's istio-http/1.1, istio-h2, istio): the ClientHello read and the chain chosen.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { validateResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { generateListeners } from '../../src/control/xds/generate/lds.ts';
import { proxyFromNode } from '../../src/control/xds/node.ts';
import { DEFAULT_MESH } from '../../src/model/snapshot.ts';
import { compileListener, selectChain } from '../../src/proxy/listener/listener-config.ts';
import { readSni } from '../../src/proxy/listener/sni.ts';
import { camelize } from '../../src/proxy/xds-client/camelize.ts';
import { decodeResource, encodeResource } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';

/** The first bytes a real Node TLS client sends (its ClientHello) with `alpn` and SNI `sni`. */
async function clientHello(alpn: string[], sni: string): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) =>
    server.once('connection', (s) =>
      s.once('data', (d: Buffer) => {
        resolve(d);
        s.destroy();
      }),
    ),
  );
  const client = tls.connect({ host: '127.0.0.1', port, servername: sni, ALPNProtocols: alpn });
  client.on('error', () => {});
  const bytes = await got;
  client.destroy();
  server.close();
  return bytes;
}

test('the ClientHello gives its server name and ALPN list, in the client order', async () => {
  const hello = readSni(await clientHello(['istio-http/1.1', 'istio', 'http/1.1'], 'outbound_.9080_._.web'));
  assert.deepEqual(hello, {
    outcome: 'done',
    sni: 'outbound_.9080_._.web',
    alpn: ['istio-http/1.1', 'istio', 'http/1.1'],
  });
  const bare = readSni(await clientHello([], 'x.example'));
  assert.deepEqual(bare, { outcome: 'done', sni: 'x.example' });
});

function inbound(mode: string) {
  const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: default}
spec:
  hosts: [db.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 3306, name: http}]
  workloadSelector: {labels: {app: db}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: db, namespace: default}
spec: {mtls: {mode: ${mode}}}`;
  const resources = validateResources(
    yaml.split('\n---\n').map((d) => parseYaml(d)),
    't.yaml',
  );
  const snapshot = snapshotFromResources({ resources, workloads: [], mesh: { ...DEFAULT_MESH }, version: 1 });
  const proxy = proxyFromNode({
    id: 'db-1',
    cluster: 'db',
    metadata: jsonToStruct({
      WEFT_SIDECAR: 'true',
      NAMESPACE: 'default',
      LABELS: { app: 'db' },
      WEFT_SERVICE: 'db',
      WEFT_SERVICE_PORT: '3306',
      WEFT_APP_PORT: '3000',
      WEFT_INBOUND_PORT: '15006',
      WEFT_OUTBOUND_PORT: '15001',
    }),
  });
  const [, l] = generateListeners({ snapshot, proxy, warn: () => {} }, ['outbound', 'inbound']);
  const wire = decodeResource(TYPE_URL.listener, encodeResource(TYPE_URL.listener, l.resource));
  return compileListener(camelize(wire) as Record<string, unknown>);
}

test('STRICT detected port: a sidecar HTTP client gets the HTTP chain, a tunnel the tcp_proxy one, other TLS the detecting chain', () => {
  const l = inbound('STRICT');
  const pick = (alpn?: string[]) => {
    const c = selectChain(l, 15006, 'tls', undefined, undefined, alpn);
    return c ? `${c.name}:${c.terminal.kind}` : 'none';
  };
  assert.equal(pick(['istio-http/1.1', 'istio', 'http/1.1']), 'inbound-mtls-http:http');
  assert.equal(pick(['istio-h2', 'istio', 'h2']), 'inbound-mtls-http:http');
  assert.equal(pick(['istio-peer-exchange', 'istio']), 'inbound-mtls-tcp:tcp');
  assert.equal(pick(['h2', 'http/1.1']), 'inbound-mtls:http');
  assert.equal(pick(undefined), 'inbound-mtls:http');
  assert.equal(selectChain(l, 15006, 'raw_buffer', 'http/1.1'), undefined, 'STRICT: no plaintext chain');
});

test('PERMISSIVE keeps its plaintext chains after the mTLS ones', () => {
  const l = inbound('PERMISSIVE');
  assert.equal(selectChain(l, 15006, 'tls', undefined, undefined, ['istio'])?.name, 'inbound-mtls-tcp');
  assert.equal(selectChain(l, 15006, 'raw_buffer', 'http/1.1')?.name, 'inbound-http');
  assert.equal(selectChain(l, 15006, 'raw_buffer', undefined)?.terminal.kind, 'tcp');
});
