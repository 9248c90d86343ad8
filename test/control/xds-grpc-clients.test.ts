// Each proxyless gRPC client gets the header matchers it accepts: string_match for releases with gRFC A63, the deprecated fields before.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { outboundCluster } from '../../src/control/xds/generate/cds.ts';
import { headerMatchForm, ringHashWorks } from '../../src/control/xds/generate/clients.ts';
import { generateRoutes } from '../../src/control/xds/generate/rds.ts';
import { type ProxyNode, proxyFromNode } from '../../src/control/xds/node.ts';
import { decodeResource, encodeResource, unknownFields } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import {
  destinationRule,
  httpRoute,
  match,
  service,
  snapshot,
  virtualService,
} from '../helpers/grpc-xds-mesh.ts';
import { simulate } from '../helpers/grpc-xds-simulate.ts';

const GREETER = 'greeter.default.svc.cluster.local';
const TARGET = `${GREETER}:50051`;

function client(name: string, version: string): ProxyNode {
  return proxyFromNode({ id: `${name}~${version}`, user_agent_name: name, user_agent_version: version });
}

const C_CORE_PYTHON_151 = client('gRPC C-core linux Python', 'C-core 29.0.0 Python 1.51.1');

test('the form follows the client and release its node declares', () => {
  const cases: [ProxyNode, string][] = [
    [C_CORE_PYTHON_151, 'legacy'],
    [client('gRPC C-core linux Python', 'C-core 39.0.0 Python 1.62.1'), 'string_match'],
    [client('gRPC C-core linux Ruby', 'C-core 34.0.0 Ruby 1.57.0'), 'string_match'],
    [client('gRPC C-core linux', 'C-core 39.0.0'), 'legacy'],
    [client('gRPC Node Pure JS', '1.14.1'), 'string_match'],
    [client('gRPC Node Pure JS', '1.8.1'), 'legacy'],
    [client('gRPC Java', '1.60.0'), 'string_match'],
    [client('gRPC Java', '1.53.0'), 'legacy'],
    [client('gRPC Go', '1.57.0'), 'string_match'],
    [client('gRPC Go', '1.55.0'), 'legacy'],
    [client('envoy', '1.30.1'), 'string_match'],
    [client('', ''), 'legacy'],
    [client('some other client', '9.9.9'), 'legacy'],
  ];
  for (const [proxy, form] of cases)
    assert.equal(headerMatchForm(proxy), form, `${proxy.userAgent.name} ${proxy.userAgent.version}`);
});

test('a C-core 1.51 client gets exact/prefix/regex header matchers that route as string_match does', () => {
  const vs = virtualService(
    'greeter',
    [GREETER],
    [
      httpRoute({
        name: 'tester',
        matches: [
          match({ headers: [{ name: 'x-user', match: { exact: 'tester' }, invert: false }] }),
          match({ name: 'beta', headers: [{ name: 'x-group', match: { prefix: 'beta-' }, invert: false }] }),
          match({ name: 'id', headers: [{ name: 'x-id', match: { regex: '[0-9]+' }, invert: true }] }),
        ],
        route: [{ host: GREETER, subset: 'v2', weight: 100 }],
      }),
      httpRoute({ name: 'split', route: [{ host: GREETER, subset: 'v1', weight: 100 }] }),
    ],
  );
  const snap = {
    ...snapshot({ services: [service('greeter', [{ number: 50051, name: 'grpc', protocol: 'GRPC' }])] }),
    virtualServices: [vs],
    virtualServicesByHost: new Map([[GREETER, [vs]]]),
  };
  const routesFor = (proxy: ProxyNode) => {
    const [generated] = generateRoutes({ snapshot: snap, proxy, warn: () => {} }, [TARGET]);
    assert.deepEqual(unknownFields(TYPE_URL.route, generated.resource), []);
    return decodeResource(TYPE_URL.route, encodeResource(TYPE_URL.route, generated.resource)) as {
      virtual_hosts: { routes: { match: { headers?: object[] } }[] }[];
    };
  };
  const legacy = routesFor(C_CORE_PYTHON_151);
  assert.deepEqual(
    legacy.virtual_hosts[0].routes.slice(0, 3).map((r) => r.match.headers),
    [
      [{ name: 'x-user', exact_match: 'tester' }],
      [{ name: 'x-group', prefix_match: 'beta-' }],
      [{ name: 'x-id', safe_regex_match: { regex: '[0-9]+' }, invert_match: true }],
    ],
  );
  const current = routesFor(client('gRPC Node Pure JS', '1.14.1'));
  assert.deepEqual(current.virtual_hosts[0].routes[0].match.headers, [
    { name: 'x-user', string_match: { exact: 'tester' } },
  ]);
  // Both forms send the same requests to the same place.
  const requests: Record<string, string>[] = [
    { 'x-user': 'tester' },
    { 'x-user': 'someone' },
    { 'x-group': 'beta-1' },
    { 'x-group': 'alpha' },
    { 'x-id': '42' },
    { 'x-id': 'abc' },
    {},
  ];
  for (const headers of requests) {
    const req = { authority: TARGET, path: '/helloworld.Greeter/SayHello', headers };
    assert.deepEqual(simulate(legacy, req), simulate(current, req), JSON.stringify(headers));
  }
  // The client's form is part of the RDS cache key: the two never share a generated resource.
  assert.notDeepEqual(legacy, current);
});

test('weft sidecars keep string_match whatever user agent they send', () => {
  const sidecar = proxyFromNode({
    id: 'p-1',
    user_agent_name: 'gRPC C-core linux Python',
    user_agent_version: 'C-core 29.0.0 Python 1.51.1',
    metadata: jsonToStruct({ WEFT_SIDECAR: 'true', NAMESPACE: 'default' }),
  });
  assert.equal(headerMatchForm(sidecar), 'string_match');
});

test('a VirtualService fault reaches proxyless gRPC clients as a per-route HTTPFault (gRFC A33)', () => {
  const vs = virtualService(
    'greeter',
    [GREETER],
    [
      httpRoute({
        name: 'abort',
        fault: {
          abort: { grpcStatus: 'UNAVAILABLE', percentage: 50 },
          delay: { fixedDelayMs: 1500, percentage: 10 },
        },
        route: [{ host: GREETER, weight: 100 }],
      }),
    ],
  );
  const snap = {
    ...snapshot({ services: [service('greeter', [{ number: 50051, name: 'grpc', protocol: 'GRPC' }])] }),
    virtualServices: [vs],
    virtualServicesByHost: new Map([[GREETER, [vs]]]),
  };
  const warnings: string[] = [];
  const [generated] = generateRoutes(
    { snapshot: snap, proxy: C_CORE_PYTHON_151, warn: (_k, m) => warnings.push(m) },
    [TARGET],
  );
  const decoded = decodeResource(TYPE_URL.route, encodeResource(TYPE_URL.route, generated.resource)) as {
    virtual_hosts: { routes: { typed_per_filter_config?: Record<string, unknown> }[] }[];
  };
  assert.deepEqual(decoded.virtual_hosts[0].routes[0].typed_per_filter_config, {
    'envoy.filters.http.fault': {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
      delay: {
        fixed_delay: { seconds: 1, nanos: 500_000_000 },
        percentage: { numerator: 100_000, denominator: 'MILLION' },
      },
      abort: { grpc_status: 14, percentage: { numerator: 500_000, denominator: 'MILLION' } },
    },
  });
  assert.deepEqual(warnings, []);
});

test('C-core before 1.52 gets ROUND_ROBIN for a ring-hash DestinationRule (its ring hash crashes); other clients get RING_HASH', () => {
  assert.equal(ringHashWorks(C_CORE_PYTHON_151), false);
  for (const ok of [
    client('gRPC C-core linux Python', 'C-core 30.0.0 Python 1.52.0'),
    client('gRPC Node Pure JS', '1.14.1'),
    client('gRPC Go', '1.55.0'),
  ])
    assert.equal(ringHashWorks(ok), true, `${ok.userAgent.name} ${ok.userAgent.version}`);
  const svc = service('greeter', [{ number: 50051, name: 'grpc', protocol: 'GRPC' }]);
  const rule = destinationRule(GREETER, {
    trafficPolicy: {
      loadBalancer: { consistentHash: { key: { httpHeaderName: 'x-user' }, algorithm: 'RING_HASH' } },
      portLevelSettings: [],
    },
  });
  const lbOf = (proxy: ProxyNode) => {
    const warnings: string[] = [];
    const ctx = {
      snapshot: snapshot({ services: [svc], destinationRules: [rule] }),
      proxy,
      warn: (_k: string, m: string) => warnings.push(m),
    };
    return { lb: outboundCluster(ctx, svc, svc.ports[0], undefined).resource.lb_policy, warnings };
  };
  const python = lbOf(C_CORE_PYTHON_151);
  assert.equal(python.lb, undefined, 'no lb_policy: ROUND_ROBIN');
  assert.match(
    python.warnings.join('\n'),
    /crashes on ring hash \(grpc\/grpc#31766, fixed in 1\.52\): it is sent ROUND_ROBIN/,
  );
  assert.equal(lbOf(client('gRPC Node Pure JS', '1.14.1')).lb, 'RING_HASH');
});
