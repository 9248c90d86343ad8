// DestinationRule semantics: subsets, load balancing, connection pools, outlier detection, TLS, port settings.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import type { DestinationRuleModel } from '../../src/model/types.ts';
import { compileYaml, doc, issuesOf } from './util.ts';

function dr(spec: string): DestinationRuleModel {
  const compiled = compileYaml(doc('DestinationRule', spec));
  assert.equal(compiled.kind, 'DestinationRule');
  return compiled.destinationRule;
}

function issues(spec: string): string[] {
  return issuesOf(() => parseResources(doc('DestinationRule', spec), 'dr.yaml')).map(
    (i) => `${i.field}: ${i.message}`,
  );
}

describe('DestinationRule', () => {
  test('a full traffic policy', () => {
    const model = dr(`  host: reviews
  exportTo: ["*"]
  trafficPolicy:
    loadBalancer: {simple: LEAST_CONN}
    connectionPool:
      tcp: {maxConnections: 10, connectTimeout: 250ms, idleTimeout: 1h, maxConnectionDuration: 10m}
      http: {http1MaxPendingRequests: 5, http2MaxRequests: 100, maxRequestsPerConnection: 0, maxRetries: 3, idleTimeout: 30s, h2UpgradePolicy: UPGRADE}
    outlierDetection: {consecutive5xxErrors: 0, consecutiveGatewayErrors: 3, consecutiveLocalOriginFailures: 2, splitExternalLocalOriginErrors: true, interval: 5s, baseEjectionTime: 30s, maxEjectionPercent: 100, minHealthPercent: 0}
    tls: {mode: SIMPLE, caCertificates: /etc/ca.pem, sni: reviews.example.com, subjectAltNames: [spiffe://cluster.local/ns/default/sa/reviews]}
    portLevelSettings:
    - port: {number: 9080}
      loadBalancer:
        consistentHash: {httpCookie: {name: user, path: /, ttl: 0s}, maglev: {tableSize: 65537}}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer:
        consistentHash: {httpHeaderName: x-user, minimumRingSize: 1024}
`);
    assert.equal(model.host, 'reviews.default.svc.cluster.local');
    assert.deepEqual(model.exportTo, ['*']);
    assert.deepEqual(model.trafficPolicy, {
      loadBalancer: { simple: 'LEAST_REQUEST' },
      connectionPool: {
        tcp: {
          maxConnections: 10,
          connectTimeoutMs: 250,
          idleTimeoutMs: 3_600_000,
          maxConnectionDurationMs: 600_000,
        },
        // maxRequestsPerConnection: 0 is proto3's "unset".
        http: {
          http1MaxPendingRequests: 5,
          http2MaxRequests: 100,
          maxRetries: 3,
          idleTimeoutMs: 30_000,
          h2UpgradePolicy: 'UPGRADE',
        },
      },
      outlierDetection: {
        consecutive5xxErrors: 0,
        consecutiveGatewayErrors: 3,
        consecutiveLocalOriginFailures: 2,
        splitExternalLocalOriginErrors: true,
        intervalMs: 5000,
        baseEjectionTimeMs: 30_000,
        maxEjectionPercent: 100,
        minHealthPercent: 0,
      },
      tls: {
        mode: 'SIMPLE',
        caCertificates: '/etc/ca.pem',
        sni: 'reviews.example.com',
        subjectAltNames: ['spiffe://cluster.local/ns/default/sa/reviews'],
      },
      portLevelSettings: [
        {
          port: 9080,
          loadBalancer: {
            consistentHash: {
              key: { httpCookie: { name: 'user', path: '/', ttlMs: 0 } },
              algorithm: 'MAGLEV',
              maglevTableSize: 65537,
            },
          },
        },
      ],
    });
    assert.deepEqual(model.subsets, [
      { name: 'v1', labels: { version: 'v1' } },
      {
        name: 'v2',
        labels: { version: 'v2' },
        trafficPolicy: {
          loadBalancer: {
            consistentHash: {
              key: { httpHeaderName: 'x-user' },
              algorithm: 'RING_HASH',
              minimumRingSize: 1024,
            },
          },
          portLevelSettings: [],
        },
      },
    ]);
  });

  test('wildcard hosts are kept; exportTo "." becomes the namespace', () => {
    const model = dr('  host: "*.example.com"\n  exportTo: ["."]\n');
    assert.equal(model.host, '*.example.com');
    assert.deepEqual(model.exportTo, ['default']);
  });

  test('unsupported and invalid policy fields are reported', () => {
    assert.deepEqual(
      issues(`  host: reviews
  trafficPolicy:
    tunnel: {protocol: CONNECT}
    proxyProtocol: {}
    loadBalancer: {simple: ROUND_ROBIN, localityLbSetting: {enabled: true}, warmupDurationSecs: 10s}
    connectionPool: {tcp: {tcpKeepalive: {time: 1s}}}
    tls: {mode: MUTUAL, credentialName: secret}
`),
      [
        'spec.trafficPolicy.tunnel: field tunnel is not supported by weft (yet): tunnelling (HTTP CONNECT upstream) is not implemented',
        'spec.trafficPolicy.proxyProtocol: field proxyProtocol is not supported by weft (yet): PROXY protocol upstream is not implemented',
        'spec.trafficPolicy.loadBalancer.localityLbSetting: field localityLbSetting is not supported by weft (yet): locality-aware load balancing is not implemented',
        'spec.trafficPolicy.loadBalancer.warmupDurationSecs: field warmupDurationSecs is not supported by weft (yet): slow-start warm-up is not implemented',
        'spec.trafficPolicy.connectionPool.tcp.tcpKeepalive: field tcpKeepalive is not supported by weft (yet): TCP keep-alive settings are not implemented',
        'spec.trafficPolicy.tls.clientCertificate: MUTUAL TLS needs clientCertificate',
        'spec.trafficPolicy.tls.privateKey: MUTUAL TLS needs privateKey',
        'spec.trafficPolicy.tls.credentialName: field credentialName is not supported by weft (yet): give clientCertificate, privateKey and caCertificates as file paths',
      ],
    );
    assert.deepEqual(
      issues(`  host: reviews
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpHeaderName: a, useSourceIp: true, maglev: {tableSize: 100}}
    outlierDetection: {interval: 0s, maxEjectionPercent: 101}
  subsets: [{name: V1}, {name: v2, labels: {version: 2}}, {name: v2}]
`).sort(),
      [
        "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: Maglev table size must be a prime number (Envoy's rule), got 100",
        'spec.trafficPolicy.loadBalancer.consistentHash: set only one of httpHeaderName, useSourceIp',
        'spec.trafficPolicy.outlierDetection.interval: duration must be at least 1ms, got "0s"',
        'spec.trafficPolicy.outlierDetection.maxEjectionPercent: must be an integer between 0 and 100, got 101',
        'spec.subsets[0].name: "V1" is not a valid DNS-1123 label (at most 63 characters: lower-case letters, digits and "-", starting and ending with a letter or digit)',
        'spec.subsets[1].labels.version: label values must be strings, got 2 (quote it)',
        'spec.subsets[2].name: name v2 is already used by subsets[1]',
      ].sort(),
    );
  });
});
