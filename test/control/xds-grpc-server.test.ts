// Proxyless gRPC server listeners (gRFC A36): names parsed from the server template, a listener that encodes with no unknown field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import {
  GRPC_SERVER_LISTENER_PREFIX,
  grpcServerListener,
  serverListeningAddress,
} from '../../src/control/xds/generate/grpc-server.ts';
import { proxyFromNode } from '../../src/control/xds/node.ts';
import { DEFAULT_MESH } from '../../src/model/mesh.ts';
import { encodeResource, unknownFields } from '../../src/xds/protos.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { snapshot } from '../helpers/grpc-xds-mesh.ts';

test('server listener names give their listening address; other names are not server listeners', () => {
  assert.deepEqual(serverListeningAddress(`${GRPC_SERVER_LISTENER_PREFIX}127.0.0.1:50051`), {
    host: '127.0.0.1',
    port: 50051,
  });
  assert.deepEqual(serverListeningAddress(`${GRPC_SERVER_LISTENER_PREFIX}[::1]:8080`), {
    host: '::1',
    port: 8080,
  });
  for (const name of [
    'greeter.default.svc.cluster.local:50051',
    `${GRPC_SERVER_LISTENER_PREFIX}127.0.0.1`,
    `${GRPC_SERVER_LISTENER_PREFIX}127.0.0.1:0`,
    `${GRPC_SERVER_LISTENER_PREFIX}127.0.0.1:70000`,
    `${GRPC_SERVER_LISTENER_PREFIX}::1:80`,
  ])
    assert.equal(serverListeningAddress(name), undefined, name);
});

test('a server listener binds the named address and serves calls itself after the router', () => {
  const proxy = proxyFromNode({
    id: 'server~1',
    user_agent_name: 'gRPC Node Pure JS',
    user_agent_version: '1.14.1',
  });
  const warnings: string[] = [];
  const name = `${GRPC_SERVER_LISTENER_PREFIX}127.0.0.1:50051`;
  const listener = grpcServerListener(
    { snapshot: snapshot({}), proxy, warn: (_k, m) => warnings.push(m) },
    name,
  );
  assert.ok(listener);
  assert.deepEqual(unknownFields(TYPE_URL.listener, listener.resource), []);
  assert.ok(encodeResource(TYPE_URL.listener, listener.resource).length > 0);
  const resource = listener.resource as {
    address: unknown;
    filter_chains: {
      filters: {
        typed_config: {
          route_config: { virtual_hosts: { routes: unknown }[] };
          http_filters: { name: string }[];
        };
      }[];
    }[];
  };
  assert.deepEqual(resource.address, { socket_address: { address: '127.0.0.1', port_value: 50051 } });
  const hcm = resource.filter_chains[0].filters[0].typed_config;
  assert.deepEqual(hcm.route_config.virtual_hosts[0].routes, [
    { match: { prefix: '/' }, non_forwarding_action: {} },
  ]);
  assert.deepEqual(
    hcm.http_filters.map((f) => f.name),
    ['envoy.filters.http.router'],
  );
  assert.deepEqual(warnings, []);
});

test("a C-core 1.51 server's RBAC header matchers use the deprecated fields it reads; grpc-js 1.14 gets string_match", () => {
  const yaml = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: default}
spec:
  action: DENY
  rules:
  - to: [{operation: {hosts: [Greeter.example]}}]
    when: [{key: 'request.headers[x-user]', values: [blocked, 'pre*']}]
`;
  const resources = parseResources(yaml, 'deny.yaml').map((p) => p.resource);
  const mesh = snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
  const headers = (userAgent: [string, string]) => {
    const proxy = proxyFromNode({
      id: 'server~1',
      user_agent_name: userAgent[0],
      user_agent_version: userAgent[1],
    });
    const name = `${GRPC_SERVER_LISTENER_PREFIX}127.0.0.1:50051`;
    const listener = grpcServerListener({ snapshot: mesh, proxy, warn: () => {} }, name);
    assert.ok(listener);
    assert.deepEqual(unknownFields(TYPE_URL.listener, listener.resource), []);
    const found: unknown[] = [];
    JSON.stringify(listener.resource, (key, value) => {
      if (key === 'header') found.push(value);
      return value;
    });
    return found;
  };
  assert.deepEqual(headers(['gRPC C-core linux Python', 'C-core 29.0.0 Python 1.51.1']), [
    { name: ':authority', safe_regex_match: { regex: '(?i)Greeter\\.example' } },
    { name: 'x-user', exact_match: 'blocked' },
    { name: 'x-user', prefix_match: 'pre' },
  ]);
  assert.deepEqual(headers(['gRPC Node Pure JS', '1.14.1']), [
    { name: ':authority', string_match: { exact: 'Greeter.example', ignore_case: true } },
    { name: 'x-user', string_match: { exact: 'blocked' } },
    { name: 'x-user', string_match: { prefix: 'pre' } },
  ]);
});
