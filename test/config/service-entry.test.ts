// ServiceEntry and WorkloadEntry semantics: one service per host, endpoints, protocols, Istio's rules.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import type { Service, Workload } from '../../src/model/types.ts';
import { compileYaml, doc, issuesOf } from './util.ts';

function se(spec: string): Service[] {
  const compiled = compileYaml(doc('ServiceEntry', spec, 'ext'));
  assert.equal(compiled.kind, 'ServiceEntry');
  return compiled.services;
}

function issues(kind: string, spec: string): string[] {
  return issuesOf(() => parseResources(doc(kind, spec), 'se.yaml')).map((i) => `${i.field}: ${i.message}`);
}

describe('ServiceEntry', () => {
  test('STATIC with endpoints: one service per host sharing the endpoints', () => {
    const services = se(`  hosts: [api.example.com, api]
  addresses: [240.0.0.1, 10.0.0.0/16]
  ports:
  - {number: 80, name: http-api, targetPort: 8080}
  - {number: 443, name: secure, protocol: TLS}
  - {number: 5432, name: db}
  location: MESH_INTERNAL
  resolution: STATIC
  subjectAltNames: [spiffe://cluster.local/ns/default/sa/api]
  exportTo: ["."]
  endpoints:
  - address: 10.0.0.1
    ports: {http-api: 9090}
    labels: {version: v1}
    weight: 3
    locality: us-east/a
  - address: 10.0.0.2
    serviceAccount: api
`);
    assert.deepEqual(
      services.map((s) => [s.hostname, s.name]),
      [
        ['api.example.com', 'api.example.com'],
        ['api.default.svc.cluster.local', 'api'],
      ],
    );
    const [first] = services;
    assert.deepEqual(first.ports, [
      { number: 80, name: 'http-api', protocol: 'HTTP', targetPort: 8080 },
      { number: 443, name: 'secure', protocol: 'TLS' },
      { number: 5432, name: 'db', protocol: 'UNKNOWN' },
    ]);
    assert.equal(first.location, 'MESH_INTERNAL');
    assert.equal(first.resolution, 'STATIC');
    assert.deepEqual(first.addresses, ['240.0.0.1', '10.0.0.0/16']);
    assert.deepEqual(first.exportTo, ['default']);
    assert.deepEqual(first.subjectAltNames, ['spiffe://cluster.local/ns/default/sa/api']);
    assert.deepEqual(first.origin, { kind: 'ServiceEntry', namespace: 'default', name: 'ext' });
    assert.equal(first.selector, undefined);
    const endpoints: Workload[] = [
      {
        uid: 'ServiceEntry/default/ext/0',
        name: 'ext-0',
        namespace: 'default',
        address: '10.0.0.1',
        labels: { version: 'v1' },
        ports: { 'http-api': 9090 },
        serviceAccount: 'default',
        weight: 3,
        locality: 'us-east/a',
        health: 'HEALTHY',
        source: 'ServiceEntry',
      },
      {
        uid: 'ServiceEntry/default/ext/1',
        name: 'ext-1',
        namespace: 'default',
        address: '10.0.0.2',
        labels: {},
        ports: {},
        serviceAccount: 'api',
        weight: 1,
        health: 'HEALTHY',
        source: 'ServiceEntry',
      },
    ];
    assert.deepEqual(first.endpoints, endpoints);
    assert.deepEqual(services[1].endpoints, endpoints);
  });

  test('defaults: MESH_EXTERNAL, resolution NONE', () => {
    const [service] = se('  hosts: ["*.example.com"]\n  ports: [{number: 443, name: tls}]\n');
    assert.equal(service.location, 'MESH_EXTERNAL');
    assert.equal(service.resolution, 'NONE');
    assert.equal(service.ports[0].protocol, 'TLS');
    assert.deepEqual(service.endpoints, []);
  });

  test('DNS without endpoints resolves each host itself, as Istio does', () => {
    const services = se(
      '  hosts: [httpbin.org, www.httpbin.org]\n  ports: [{number: 80, name: http}]\n  resolution: DNS\n',
    );
    assert.deepEqual(
      services.map((s) => s.endpoints.map((e) => [e.uid, e.address])),
      [
        [['ServiceEntry/default/ext/httpbin.org', 'httpbin.org']],
        [['ServiceEntry/default/ext/www.httpbin.org', 'www.httpbin.org']],
      ],
    );
  });

  test('a workloadSelector becomes the selector', () => {
    const [service] = se(`  hosts: [vm.default.svc.cluster.local]
  ports: [{number: 8080, name: grpc}]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector: {labels: {app: vm}}
`);
    assert.deepEqual(service.selector, { app: 'vm' });
    assert.equal(service.name, 'vm');
    assert.equal(service.ports[0].protocol, 'GRPC');
  });

  test("Istio's rules are enforced", () => {
    assert.deepEqual(
      issues(
        'ServiceEntry',
        `  hosts: ["*", "*.wild.com"]
  ports: [{number: 80, name: http}, {number: 81, name: udp, protocol: UDP}]
  resolution: DNS
  addresses: [not-an-ip]
`,
      ),
      [
        'spec.hosts: a ServiceEntry cannot claim every host ("*")',
        'spec.hosts[0]: resolution DNS without endpoints resolves the hosts themselves; "*" is a wildcard',
        'spec.hosts[1]: resolution DNS without endpoints resolves the hosts themselves; "*.wild.com" is a wildcard',
        'spec.ports[1].protocol: protocol UDP is not supported by weft (yet); use TCP',
        'spec.addresses[0]: "not-an-ip" is not an IP address or CIDR block',
      ],
    );
    assert.deepEqual(
      issues(
        'ServiceEntry',
        `  hosts: [a.example.com]
  ports: [{number: 80, name: http}, {number: 81, name: http}]
  resolution: STATIC
  endpoints: [{address: a.example.com, ports: {web: 80}}]
  workloadSelector: {labels: {app: a}}
`,
      ),
      [
        'spec.ports[1].name: port name http is used more than once',
        'spec.endpoints[0].address: resolution STATIC needs IP addresses, got "a.example.com"',
        'spec.endpoints[0].ports.web: port name "web" is not one of the ServiceEntry\'s ports (http)',
        'spec.workloadSelector: set either endpoints or workloadSelector, not both (as in Istio)',
      ],
    );
    assert.deepEqual(
      issues(
        'ServiceEntry',
        '  hosts: [a.example.com]\n  ports: [{number: 80, name: http}]\n  resolution: STATIC\n',
      ),
      ['spec.endpoints: resolution STATIC needs endpoints or a workloadSelector'],
    );
    assert.deepEqual(issues('ServiceEntry', '  hosts: [a.example.com]\n'), [
      'spec.ports: field "ports" is required',
    ]);
  });
});

describe('WorkloadEntry', () => {
  test('a workload with defaults; network is ignored with a warning', () => {
    const text = doc(
      'WorkloadEntry',
      '  address: 10.1.0.5\n  labels: {app: vm, version: v1}\n  ports: {http: 8080}\n  network: vpc-1\n',
      'vm-1',
    );
    const compiled = compileYaml(text);
    assert.equal(compiled.kind, 'WorkloadEntry');
    assert.deepEqual(compiled.workload, {
      uid: 'WorkloadEntry/default/vm-1',
      name: 'vm-1',
      namespace: 'default',
      address: '10.1.0.5',
      labels: { app: 'vm', version: 'v1' },
      ports: { http: 8080 },
      serviceAccount: 'default',
      weight: 1,
      health: 'HEALTHY',
      source: 'WorkloadEntry',
    });
    const [parsed] = parseResources(text, 'we.yaml');
    assert.deepEqual(parsed.warnings, [
      'we.yaml:9:3: document 0: spec.network: ignored: weft runs one network; multi-network gateways are not implemented',
    ]);
  });

  test('bad addresses, ports and localities are reported', () => {
    assert.deepEqual(
      issues('WorkloadEntry', '  address: unix:///tmp/sock\n  ports: {http: 70000}\n  locality: a/b/c/d\n'),
      [
        'spec.address: unix domain socket addresses are not supported by weft (yet)',
        'spec.ports.http: must be an integer between 1 and 65535, got 70000',
        'spec.locality: locality must be region[/zone[/subzone]], got "a/b/c/d"',
      ],
    );
  });
});
