// Proxyless gRPC mTLS (gRFC A29): certificate-provider TLS on clusters and server listeners, by PeerAuthentication and DestinationRule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { outboundCluster } from '../../src/control/xds/generate/cds.ts';
import {
  GRPC_SERVER_LISTENER_PREFIX,
  grpcServerListener,
} from '../../src/control/xds/generate/grpc-server.ts';
import { proxyFromNode } from '../../src/control/xds/node.ts';
import type { ClientTlsSettings, MeshSnapshot, PeerAuthenticationModel } from '../../src/model/types.ts';
import { unknownFields } from '../../src/xds/protos.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { destinationRule, service, snapshot, workload } from '../helpers/grpc-xds-mesh.ts';

const GREETER = service('greeter', [{ number: 50051, name: 'grpc', protocol: 'GRPC' }]);
const SERVER_SPIFFE = 'spiffe://cluster.local/ns/default/sa/greeter';

function mesh(mode: PeerAuthenticationModel['mode'] | undefined, tls?: ClientTlsSettings): MeshSnapshot {
  const base = snapshot({
    services: [GREETER],
    workloads: [workload('g1', '127.0.0.1', { app: 'greeter' }, { serviceAccount: 'greeter' })],
    destinationRules: tls
      ? [destinationRule(GREETER.hostname, { trafficPolicy: { tls, portLevelSettings: [] } })]
      : [],
  });
  const pa: PeerAuthenticationModel[] = mode
    ? [{ name: 'default', namespace: 'default', mode, portLevelMtls: [] }]
    : [];
  return { ...base, peerAuthentications: pa };
}

const grpcNode = () =>
  proxyFromNode({ id: 'proxyless~1', user_agent_name: 'gRPC Node Pure JS', user_agent_version: '1.14.1' });

function clusterOf(s: MeshSnapshot, warnings: string[] = []) {
  const ctx = { snapshot: s, proxy: grpcNode(), warn: (_k: string, m: string) => warnings.push(m) };
  const cluster = outboundCluster(ctx, GREETER, GREETER.ports[0], undefined).resource;
  assert.deepEqual(unknownFields(TYPE_URL.cluster, cluster), []);
  return cluster;
}

const TYPE_URL_UPSTREAM = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const PROVIDER_TLS = {
  tls_certificate_provider_instance: { instance_name: 'default', certificate_name: 'default' },
  validation_context: {
    ca_certificate_provider_instance: { instance_name: 'default', certificate_name: 'ROOTCA' },
    match_subject_alt_names: [{ exact: SERVER_SPIFFE }],
  },
};

test('under STRICT a proxyless client gets certificate-provider mTLS verifying the server SPIFFE ID', () => {
  const cluster = clusterOf(mesh('STRICT'));
  assert.deepEqual(cluster.transport_socket, {
    name: 'envoy.transport_sockets.tls',
    typed_config: { '@type': TYPE_URL_UPSTREAM, common_tls_context: PROVIDER_TLS },
  });
});

test('PERMISSIVE and DISABLE give plaintext; ISTIO_MUTUAL gives mTLS whatever the mode; SIMPLE warns', () => {
  assert.equal(clusterOf(mesh(undefined)).transport_socket, undefined);
  // STRICT is about the mesh's own workloads: a MESH_EXTERNAL service stays plaintext.
  const external = { ...GREETER, location: 'MESH_EXTERNAL' as const };
  const strict = mesh('STRICT');
  const ctx = { snapshot: strict, proxy: grpcNode(), warn: () => {} };
  assert.equal(
    outboundCluster(ctx, external, external.ports[0], undefined).resource.transport_socket,
    undefined,
  );
  assert.equal(clusterOf(mesh('PERMISSIVE')).transport_socket, undefined);
  assert.equal(clusterOf(mesh('STRICT', { mode: 'DISABLE' })).transport_socket, undefined);
  const mutual = clusterOf(mesh('PERMISSIVE', { mode: 'ISTIO_MUTUAL' }));
  assert.deepEqual(mutual.transport_socket, {
    name: 'envoy.transport_sockets.tls',
    typed_config: { '@type': TYPE_URL_UPSTREAM, common_tls_context: PROVIDER_TLS },
  });
  const warnings: string[] = [];
  assert.equal(
    clusterOf(mesh('STRICT', { mode: 'SIMPLE', caCertificates: '/etc/certs/ca.pem' }), warnings)
      .transport_socket,
    undefined,
  );
  assert.match(warnings.join('\n'), /proxyless gRPC clients cannot originate TLS with files \(SIMPLE\)/);
});

test('a proxyless server under STRICT requires a client certificate; under PERMISSIVE it serves plaintext', () => {
  const name = `${GRPC_SERVER_LISTENER_PREFIX}127.0.0.1:50051`;
  const listen = (s: MeshSnapshot) => {
    const ctx = { snapshot: s, proxy: grpcNode(), warn: () => {} };
    const listener = grpcServerListener(ctx, name);
    assert.ok(listener);
    assert.deepEqual(unknownFields(TYPE_URL.listener, listener.resource), []);
    return (listener.resource as { filter_chains: { transport_socket?: unknown }[] }).filter_chains[0];
  };
  assert.deepEqual(listen(mesh('STRICT')).transport_socket, {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      common_tls_context: {
        tls_certificate_provider_instance: { instance_name: 'default', certificate_name: 'default' },
        validation_context: {
          ca_certificate_provider_instance: { instance_name: 'default', certificate_name: 'ROOTCA' },
        },
      },
      require_client_certificate: { value: true },
    },
  });
  assert.equal(listen(mesh('PERMISSIVE')).transport_socket, undefined);
  assert.equal(listen(mesh(undefined)).transport_socket, undefined);
});
