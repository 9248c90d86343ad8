// weft analyze: fields proxyless gRPC clients ignore or read differently are named, for gRPC services only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyze, placeFinding } from '../../src/analysis/analyze.ts';
import { parseResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { DEFAULT_MESH } from '../../src/model/mesh.ts';

function mesh(protocol: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: greeter, namespace: default}
spec:
  hosts: [greeter.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 50051, name: p, protocol: ${protocol}}]
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: greeter, namespace: default}
spec:
  hosts: [greeter.default.svc.cluster.local]
  http:
  - route: [{destination: {host: greeter.default.svc.cluster.local}}]
    mirror: {host: greeter.default.svc.cluster.local}
    retries: {attempts: 2, retryOn: "5xx,unavailable", perTryTimeout: 1s}
  - route: [{destination: {host: greeter.default.svc.cluster.local}}]
    timeout: 2s
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: greeter, namespace: default}
spec:
  host: greeter.default.svc.cluster.local
  trafficPolicy:
    loadBalancer: {consistentHash: {httpCookie: {name: session, ttl: 10s}}}
    outlierDetection: {consecutive5xxErrors: 5, interval: 1s}
    connectionPool: {http: {http2MaxRequests: 10, maxRetries: 3}}
    tls: {mode: SIMPLE}
`;
}

function gaps(protocol: string): string[] {
  const resources = parseResources(mesh(protocol), 'mesh.yaml').map((p) => p.resource);
  const snapshot = snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
  return analyze({ resources, snapshot, workloadsKnown: false })
    .filter((f) => f.code === 'ProxylessUnsupported')
    .map((f) => `${placeFinding(f).kind} ${placeFinding(f).field}`);
}

test('a gRPC service: each field proxyless clients cannot honour is named', () => {
  assert.deepEqual(gaps('GRPC').sort(), [
    'DestinationRule spec.trafficPolicy.connectionPool.http.maxRetries',
    'DestinationRule spec.trafficPolicy.loadBalancer.consistentHash',
    'DestinationRule spec.trafficPolicy.loadBalancer.consistentHash.httpCookie',
    'DestinationRule spec.trafficPolicy.outlierDetection.consecutive5xxErrors',
    'DestinationRule spec.trafficPolicy.tls.mode',
    'VirtualService spec.http[0].mirror',
    'VirtualService spec.http[0].retries.perTryTimeout',
    'VirtualService spec.http[0].retries.retryOn',
  ]);
});

test('an HTTP service gets no proxyless findings', () => {
  assert.deepEqual(gaps('HTTP'), []);
});
