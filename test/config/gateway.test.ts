// Istio Gateway, VirtualService tls[] routes and weft MeshConfig: what they mean for the model, and what is refused.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { DEFAULT_MESH } from '../../src/model/snapshot.ts';
import type { GatewayModel } from '../../src/model/types.ts';
import { compileYaml, doc, issuesOf } from './util.ts';

function gateway(spec: string): GatewayModel {
  const compiled = compileYaml(doc('Gateway', spec, 'ingress'));
  assert.equal(compiled.kind, 'Gateway');
  return compiled.gateway;
}

function issues(kind: string, spec: string, apiVersion = 'networking.istio.io/v1'): string[] {
  const text = `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: x\n  namespace: web\nspec:\n${spec}`;
  return issuesOf(() => parseResources(text, 'gw.yaml')).map((i) => `${i.field}: ${i.message}`);
}

describe('Istio Gateway', () => {
  test('servers: ports, protocols, ns/host forms, TLS modes and the redirect flag', () => {
    const model = gateway(`  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*/bookinfo.example.com", "./local.example.com", "prod/*.prod.example.com", "*"]
    tls: {httpsRedirect: true}
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [bookinfo.example.com]
    tls: {mode: SIMPLE, serverCertificate: /etc/certs/cert.pem, privateKey: /etc/certs/key.pem, minProtocolVersion: TLSV1_2}
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: [nginx.example.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 8443, protocol: https}
    name: mutual
    hosts: [api.example.com]
    tls: {mode: MUTUAL, serverCertificate: c.pem, privateKey: k.pem, caCertificates: ca.pem, subjectAltNames: [client.example.com]}
`);
    assert.equal(model.dialect, 'istio');
    assert.deepEqual(model.selector, { istio: 'ingressgateway' });
    assert.equal(model.selectorNamespace, undefined, 'Istio selects gateways in any namespace');
    const [http, https, passthrough, mutual] = model.servers;
    assert.deepEqual(http.hosts, [
      { namespace: '*', host: 'bookinfo.example.com' },
      { namespace: 'default', host: 'local.example.com' },
      { namespace: 'prod', host: '*.prod.example.com' },
      { namespace: '*', host: '*' },
    ]);
    assert.equal(http.httpsRedirect, true);
    assert.equal(http.tls, undefined);
    assert.deepEqual(https.tls, {
      mode: 'SIMPLE',
      serverCertificate: '/etc/certs/cert.pem',
      privateKey: '/etc/certs/key.pem',
      subjectAltNames: [],
      minProtocolVersion: 'TLSV1_2',
    });
    assert.deepEqual(passthrough.tls, { mode: 'PASSTHROUGH', subjectAltNames: [] });
    assert.deepEqual(mutual.port, { number: 8443, protocol: 'HTTPS', name: 'https-8443' });
    assert.equal(mutual.name, 'mutual');
    assert.equal(mutual.tls?.caCertificates, 'ca.pem');
    assert.deepEqual(mutual.tls?.subjectAltNames, ['client.example.com']);
  });

  test('no selector selects every gateway proxy; TLS_AUTO is the default version', () => {
    const model = gateway(`  servers:
  - port: {number: 8443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, serverCertificate: c.pem, privateKey: k.pem, minProtocolVersion: TLS_AUTO}
`);
    assert.deepEqual(model.selector, {});
    assert.equal(model.servers[0].tls?.minProtocolVersion, undefined);
  });

  test('what weft refuses, and why', () => {
    const server = (extra: string) =>
      `  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n${extra}`;
    assert.deepEqual(
      issues('Gateway', server('    tls: {mode: SIMPLE, credentialName: bookinfo-secret}\n')),
      [
        'spec.servers[0].tls.credentialName: field credentialName is not supported by weft: credentialName names a Kubernetes Secret, which weft does not read; give PEM files with serverCertificate and privateKey (and caCertificates for MUTUAL)',
      ],
    );
    assert.deepEqual(issues('Gateway', server('    tls: {mode: SIMPLE, serverCertificate: c.pem}\n')), [
      'spec.servers[0].tls.privateKey: tls mode SIMPLE needs privateKey (a PEM file)',
    ]);
    assert.match(
      issues('Gateway', server('    tls: {mode: ISTIO_MUTUAL}\n'))[0],
      /tls mode ISTIO_MUTUAL is not supported by weft/,
    );
    assert.deepEqual(issues('Gateway', server('')), [
      'spec.servers[0].tls: a HTTPS server needs tls settings (mode SIMPLE, MUTUAL or PASSTHROUGH)',
    ]);
    assert.deepEqual(
      issues(
        'Gateway',
        '  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n    tls: {mode: SIMPLE}\n',
      ),
      [
        'spec.servers[0].tls: tls.mode applies to HTTPS and TLS servers; a HTTP server may only set tls.httpsRedirect',
      ],
    );
    assert.deepEqual(
      issues(
        'Gateway',
        '  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n  - port: {number: 80, name: tcp, protocol: TCP}\n    hosts: ["*"]\n',
      ),
      [
        'spec.servers[1].port: port 80 is already used by servers[0] with another kind of protocol; plain HTTP, TLS and TCP servers need their own ports',
      ],
    );
    assert.deepEqual(
      issues(
        'Gateway',
        '  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["Bad Host"]\n',
      ),
      [
        'spec.servers[0].hosts[0]: host "bad host" is not a valid hostname (label "bad host"); use DNS labels and at most a leading "*."',
      ],
    );
    assert.match(
      issues(
        'Gateway',
        '  servers:\n  - port: {number: 80, name: m, protocol: MONGO}\n    hosts: ["*"]\n',
      )[0],
      /protocol MONGO is not supported on gateway servers/,
    );
    assert.match(
      issues(
        'Gateway',
        '  servers:\n  - port: {number: 80, name: h, protocol: HTTP}\n    bind: 127.0.0.1\n    hosts: ["*"]\n',
      )[0],
      /spec\.servers\[0\]\.bind: field bind is not supported by weft/,
    );
  });
});

describe('VirtualService tls[] routes', () => {
  test('sniHosts, port and gateways are read for gateways in PASSTHROUGH mode', () => {
    const compiled = compileYaml(
      doc(
        'VirtualService',
        `  hosts: [nginx.example.com]
  gateways: [ingress]
  tls:
  - match: [{sniHosts: [NGINX.example.com], port: 443, gateways: [istio-system/ingress]}]
    route: [{destination: {host: nginx, port: {number: 8443}}}]
`,
      ),
    );
    assert.equal(compiled.kind, 'VirtualService');
    assert.deepEqual(compiled.virtualService.tls, [
      {
        matches: [{ sniHosts: ['nginx.example.com'], port: 443, gateways: ['istio-system/ingress'] }],
        route: [{ host: 'nginx.default.svc.cluster.local', port: 8443, weight: 100 }],
      },
    ]);
  });

  test('a tls match needs sniHosts', () => {
    assert.deepEqual(
      issues(
        'VirtualService',
        '  hosts: [a.example.com]\n  tls: [{match: [{port: 443}], route: [{destination: {host: a}}]}]\n',
      ),
      ['spec.tls[0].match[0].sniHosts: field "sniHosts" is required'],
    );
  });
});

describe('MeshConfig', () => {
  test('outboundTrafficPolicy.mode', () => {
    const compiled = compileYaml(
      'apiVersion: weft.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n',
    );
    assert.deepEqual(compiled, {
      kind: 'MeshConfig',
      meshConfig: { name: 'mesh', namespace: 'default', outboundTrafficPolicy: 'REGISTRY_ONLY' },
    });
    assert.deepEqual(
      issues('MeshConfig', '  outboundTrafficPolicy: {mode: ALLOW_SOME}\n', 'weft.dev/v1alpha1'),
      ['spec.outboundTrafficPolicy.mode: must be one of ALLOW_ANY, REGISTRY_ONLY, got "ALLOW_SOME"'],
    );
  });
});

describe('outboundTrafficPolicy in the snapshot', () => {
  const meshConfig = (name: string, mode: string, second: number) => {
    const [doc] = parseResources(
      `apiVersion: weft.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: ${name}}\nspec:\n  outboundTrafficPolicy: {mode: ${mode}}\n`,
      'mc.yaml',
    );
    doc.resource.metadata.creationTimestamp = new Date(Date.UTC(2025, 0, 1, 0, 0, second)).toISOString();
    return doc.resource;
  };
  const policy = (resources: ReturnType<typeof meshConfig>[], flag: 'ALLOW_ANY' | 'REGISTRY_ONLY') =>
    snapshotFromResources({
      resources,
      workloads: [],
      mesh: { ...DEFAULT_MESH, outboundTrafficPolicy: flag },
      version: 1,
    }).mesh.outboundTrafficPolicy;

  test("the control plane's setting holds until a MeshConfig says otherwise; the oldest MeshConfig wins", () => {
    assert.equal(policy([], 'REGISTRY_ONLY'), 'REGISTRY_ONLY');
    assert.equal(policy([meshConfig('a', 'REGISTRY_ONLY', 1)], 'ALLOW_ANY'), 'REGISTRY_ONLY');
    assert.equal(
      policy([meshConfig('b', 'ALLOW_ANY', 2), meshConfig('a', 'REGISTRY_ONLY', 1)], 'ALLOW_ANY'),
      'REGISTRY_ONLY',
    );
  });
});
