// Generated mTLS config (LDS per PeerAuthentication, CDS auto mTLS and DestinationRule TLS, EDS tlsMode) as the proxy compiles it.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CertificateAuthority } from '../../src/control/ca/certificate-authority.ts';
import { generateClusters } from '../../src/control/xds/generate/cds.ts';
import { generateEndpoints } from '../../src/control/xds/generate/eds.ts';
import { generateListeners } from '../../src/control/xds/generate/lds.ts';
import { proxyFromNode } from '../../src/control/xds/node.ts';
import type { ClientTlsSettings, MeshSnapshot, MtlsMode } from '../../src/model/types.ts';
import { compileCluster, compileLoadAssignment } from '../../src/proxy/cluster/cluster-config.ts';
import { compileListener, selectChain } from '../../src/proxy/listener/listener-config.ts';
import { ProxyCore } from '../../src/proxy/proxy.ts';
import { ROOT_CA_SECRET, WORKLOAD_CERT_SECRET } from '../../src/proxy/tls/secrets.ts';
import { selectUpstreamTls } from '../../src/proxy/tls/tls-config.ts';
import { setTlsFileDirs } from '../../src/proxy/tls/tls-files.ts';
import { camelize } from '../../src/proxy/xds-client/camelize.ts';
import { decodeResource, encodeResource, unknownFields } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { destinationRule, service, snapshot, workload } from '../helpers/grpc-xds-mesh.ts';
import { tempDir } from '../identity/fixtures.ts';

type Obj = Record<string, unknown>;

const REVIEWS = 'reviews.default.svc.cluster.local';
const CLUSTER = `outbound|9080||${REVIEWS}`;

function sidecar(app = 'productpage', protocol = 'HTTP') {
  return proxyFromNode({
    id: `${app}-1`,
    cluster: app,
    metadata: jsonToStruct({
      WEFT_SIDECAR: 'true',
      NAMESPACE: 'default',
      SERVICE_ACCOUNT: app,
      LABELS: { app, version: 'v1' },
      WEFT_SERVICE: app,
      WEFT_SERVICE_PORT: '9080',
      WEFT_SERVICE_PROTOCOL: protocol,
      WEFT_APP_PORT: '3000',
      WEFT_INBOUND_PORT: '15006',
      WEFT_OUTBOUND_PORT: '15001',
    }),
  });
}

/** reviews: one workload with a weft sidecar (service account reviews), one WorkloadEntry without. */
function mesh(options: { reviewsMode?: MtlsMode; tls?: ClientTlsSettings } = {}): MeshSnapshot {
  const snap = snapshot({
    services: [service('reviews', [{ number: 9080 }])],
    workloads: [
      workload(
        'reviews-sidecar',
        '10.0.0.1',
        { app: 'reviews' },
        {
          serviceAccount: 'reviews',
          sidecar: { inboundPort: 15006 },
          ports: { http: 3000 },
          source: 'proxy',
        },
      ),
      workload('reviews-vm', '10.0.0.2', { app: 'reviews' }, { serviceAccount: 'vm' }),
    ],
    destinationRules: options.tls
      ? [destinationRule(REVIEWS, { trafficPolicy: { tls: options.tls, portLevelSettings: [] } })]
      : [],
  });
  const peerAuthentications = options.reviewsMode
    ? [
        {
          name: 'reviews',
          namespace: 'default',
          selector: { app: 'reviews' },
          mode: options.reviewsMode,
          portLevelMtls: [],
        },
      ]
    : [];
  return { ...snap, peerAuthentications };
}

/** What the proxy receives: encoded, decoded, camelCased. */
function received(typeUrl: string, resources: { name: string; resource: Obj }[]): Obj[] {
  return resources.map((r) => {
    assert.deepEqual(unknownFields(typeUrl, r.resource), [], `${r.name} has fields the proto does not`);
    return camelize(decodeResource(typeUrl, encodeResource(typeUrl, r.resource))) as Obj;
  });
}

function inboundOf(snap: MeshSnapshot, protocol = 'HTTP') {
  const proxy = sidecar('reviews', protocol);
  const [, inbound] = received(
    TYPE_URL.listener,
    generateListeners({ snapshot: snap, proxy, warn: () => {} }, undefined),
  );
  return compileListener(inbound);
}

describe('inbound listener per PeerAuthentication', () => {
  test('PERMISSIVE (default): an mTLS chain for TLS, plaintext HTTP and TCP otherwise', () => {
    const l = inboundOf(mesh());
    assert.equal(l.tlsInspector, true);
    const tls = selectChain(l, 15006, 'tls', undefined);
    assert.equal(tls?.name, 'inbound-mtls');
    assert.equal(tls?.tls?.requireClientCertificate, true);
    assert.equal(tls?.tls?.common.minVersion, 'TLSv1.3');
    assert.deepEqual(tls?.tls?.common.certificate, { kind: 'sds', name: 'default' });
    assert.equal(selectChain(l, 15006, 'raw_buffer', 'http/1.1')?.name, 'inbound-http');
    assert.equal(selectChain(l, 15006, 'raw_buffer', undefined)?.name, 'inbound-tcp');
  });

  test('STRICT: only the mTLS chain; plaintext matches nothing', () => {
    const l = inboundOf(mesh({ reviewsMode: 'STRICT' }));
    assert.equal(selectChain(l, 15006, 'tls', undefined)?.name, 'inbound-mtls');
    assert.equal(selectChain(l, 15006, 'raw_buffer', 'http/1.1'), undefined);
    assert.equal(selectChain(l, 15006, 'raw_buffer', undefined), undefined);
  });

  test('DISABLE: plaintext only (a TLS client reaches the app as opaque bytes)', () => {
    const l = inboundOf(mesh({ reviewsMode: 'DISABLE' }));
    assert.equal(l.tlsInspector, false);
    assert.equal(selectChain(l, 15006, 'tls', undefined)?.tls, undefined);
  });

  test('a TCP service: mTLS tcp_proxy chain, plaintext TCP as default (PERMISSIVE) or nothing (STRICT)', () => {
    const permissive = inboundOf(mesh(), 'TCP');
    assert.equal(selectChain(permissive, 15006, 'tls', undefined)?.terminal.kind, 'tcp');
    assert.ok(selectChain(permissive, 15006, 'tls', undefined)?.tls);
    assert.equal(selectChain(permissive, 15006, 'raw_buffer', undefined)?.tls, undefined);
    const strict = inboundOf(mesh({ reviewsMode: 'STRICT' }), 'TCP');
    assert.equal(selectChain(strict, 15006, 'raw_buffer', undefined), undefined);
  });
});

function clusterAndEndpoints(snap: MeshSnapshot) {
  const ctx = { snapshot: snap, proxy: sidecar(), warn: () => {} };
  const [cluster] = received(TYPE_URL.cluster, generateClusters(ctx, [CLUSTER]));
  const [cla] = received(TYPE_URL.endpoint, generateEndpoints(ctx, [CLUSTER]));
  return { cluster: compileCluster(cluster), endpoints: compileLoadAssignment(cla).endpoints };
}

describe('outbound: auto mTLS and DestinationRule TLS', () => {
  test('auto mTLS: the sidecar endpoint gets mTLS with secure naming, the VM plaintext', () => {
    const { cluster, endpoints } = clusterAndEndpoints(mesh());
    const byAddress = new Map(endpoints.map((e) => [e.address, e]));
    const sidecarTls = selectUpstreamTls(
      cluster.transportSocketMatches ?? [],
      cluster.transportSocket,
      byAddress.get('10.0.0.1')?.transportMatch,
    );
    assert.ok(sidecarTls);
    assert.equal(sidecarTls.sni, `outbound_.9080_._.${REVIEWS}`);
    assert.deepEqual(sidecarTls.common.alpn, ['istio-peer-exchange', 'istio']);
    assert.deepEqual(
      sidecarTls.common.validation?.sanMatchers.map((m) => `${m.sanType} ${m.matcher.value}`),
      ['URI spiffe://cluster.local/ns/default/sa/reviews', 'URI spiffe://cluster.local/ns/default/sa/vm'],
    );
    assert.equal(
      selectUpstreamTls(
        cluster.transportSocketMatches ?? [],
        cluster.transportSocket,
        byAddress.get('10.0.0.2')?.transportMatch,
      ),
      undefined,
    );
  });

  test('a destination in DISABLE gets plaintext from its clients', () => {
    const { cluster, endpoints } = clusterAndEndpoints(mesh({ reviewsMode: 'DISABLE' }));
    for (const e of endpoints)
      assert.equal(
        selectUpstreamTls(cluster.transportSocketMatches ?? [], cluster.transportSocket, e.transportMatch),
        undefined,
      );
  });

  test('ISTIO_MUTUAL: mTLS to every endpoint; DISABLE: none', () => {
    const mutual = clusterAndEndpoints(mesh({ tls: { mode: 'ISTIO_MUTUAL' } }));
    assert.ok(mutual.cluster.transportSocket);
    assert.equal(mutual.cluster.transportSocketMatches, undefined);
    const off = clusterAndEndpoints(mesh({ tls: { mode: 'DISABLE' } }));
    assert.equal(off.cluster.transportSocket, undefined);
    assert.equal(off.cluster.transportSocketMatches, undefined);
  });

  test('SIMPLE and MUTUAL: files read by the proxy, SNI and SANs, system roots without caCertificates', async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const dir = await tempDir(t);
    setTlsFileDirs([dir]);
    t.after(() => setTlsFileDirs(undefined));
    await writeFile(join(dir, 'ca.pem'), ca.trustBundle());
    const simple = clusterAndEndpoints(
      mesh({ tls: { mode: 'SIMPLE', caCertificates: join(dir, 'ca.pem'), sni: 'api.example.com' } }),
    ).cluster.transportSocket;
    assert.equal(simple?.sni, 'api.example.com');
    assert.equal(simple?.common.validation?.trust.kind, 'inline');
    assert.deepEqual(
      simple?.common.validation?.sanMatchers.map((m) => `${m.sanType} ${m.matcher.value}`),
      ['DNS api.example.com'],
    );
    const system = clusterAndEndpoints(mesh({ tls: { mode: 'SIMPLE' } })).cluster.transportSocket;
    assert.equal(system?.common.validation?.trust.kind, 'system');
    assert.equal(system?.sni, REVIEWS);
    const missing = mesh({
      tls: { mode: 'MUTUAL', clientCertificate: '/nonexistent/c.pem', privateKey: '/nonexistent/k.pem' },
    });
    assert.throws(() => clusterAndEndpoints(missing), /cannot read \/nonexistent\/c\.pem/);
  });

  test('a proxy without a workload identity NACKs mesh TLS; with one it accepts', async (t) => {
    const ctx = { snapshot: mesh(), proxy: sidecar(), warn: () => {} };
    const resources = received(TYPE_URL.cluster, generateClusters(ctx, [CLUSTER])).map((body) => ({
      name: String(body.name),
      body,
    }));
    const bare = new ProxyCore({ configOnly: true });
    await assert.rejects(
      bare.apply(TYPE_URL.cluster, resources, '1', true),
      /Cluster outbound\|9080\|\|reviews\.default\.svc\.cluster\.local: TLS secrets 'default', 'ROOTCA' not available/,
    );
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const withIdentity = new ProxyCore({ configOnly: true });
    withIdentity.secrets.set(WORKLOAD_CERT_SECRET, {
      kind: 'tls_certificate',
      certChainPem: '',
      privateKeyPem: '',
    });
    withIdentity.secrets.set(ROOT_CA_SECRET, { kind: 'validation_context', trustedCaPem: ca.trustBundle() });
    await withIdentity.apply(TYPE_URL.cluster, resources, '1', true);
    withIdentity.destroy();
    bare.destroy();
  });
});
