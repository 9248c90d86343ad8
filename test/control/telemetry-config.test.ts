// Telemetry (telemetry.istio.io) and MeshConfig's access log fields: read with field errors, resolved per workload, generated as the HCM's access_log the proxy compiles.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { generateListeners } from '../../src/control/xds/generate/lds.ts';
import { proxyFromNode } from '../../src/control/xds/node.ts';
import { DEFAULT_MESH } from '../../src/model/mesh.ts';
import { telemetryFor } from '../../src/model/telemetry.ts';
import type { MeshSnapshot } from '../../src/model/types.ts';
import type { AccessLogEntry } from '../../src/observe/access-log/entry.ts';
import { compileListener } from '../../src/proxy/listener/listener-config.ts';
import { camelize } from '../../src/proxy/xds-client/camelize.ts';
import { decodeResource, encodeResource } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { issuesOf } from '../config/util.ts';

const MESH_CONFIG = `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec:
  accessLogEncoding: JSON
  extensionProviders:
  - name: text-log
    envoyFileAccessLog: {path: /tmp/text.log, logFormat: {text: "%RESPONSE_CODE% %REQ(:PATH)%"}}
`;

function snap(yaml: string): MeshSnapshot {
  const resources = parseResources(yaml, 'test.yaml').map((d) => d.resource);
  return snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
}

const reviews = {
  namespace: 'default',
  labels: { app: 'reviews', version: 'v1' },
  serviceAccount: 'reviews',
};
const ratings = { namespace: 'default', labels: { app: 'ratings' }, serviceAccount: 'ratings' };

test('no access log by default; MeshConfig accessLogFile turns it on everywhere', () => {
  assert.deepEqual(telemetryFor(snap(''), reviews, 'SERVER').accessLogs, []);
  const on = snap(`apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: m, namespace: istio-system}
spec: {accessLogFile: /dev/stdout}
`);
  assert.deepEqual(telemetryFor(on, reviews, 'CLIENT').accessLogs, [
    { provider: 'envoy', path: '/dev/stdout', encoding: 'TEXT', format: undefined },
  ]);
});

test('Telemetry scopes: mesh, then namespace, then workload selector; disabled; match mode', () => {
  const s = snap(`${MESH_CONFIG}---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging: [{providers: [{name: envoy}]}]
---
apiVersion: telemetry.istio.io/v1alpha1
kind: Telemetry
metadata: {name: reviews, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  accessLogging:
  - providers: [{name: text-log}]
    match: {mode: SERVER}
  - disabled: true
    match: {mode: CLIENT}
`);
  assert.deepEqual(
    telemetryFor(s, ratings, 'SERVER').accessLogs.map((l) => [l.path, l.encoding]),
    [['/dev/stdout', 'JSON']],
  );
  assert.deepEqual(
    telemetryFor(s, reviews, 'SERVER').accessLogs.map((l) => [l.path, l.format]),
    [['/tmp/text.log', '%RESPONSE_CODE% %REQ(:PATH)%']],
  );
  assert.deepEqual(telemetryFor(s, reviews, 'CLIENT').accessLogs, []);
});

test('Telemetry fields weft does not implement are refused by name, with their path', () => {
  const issues = issuesOf(() =>
    parseResources(
      `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: t, namespace: default}
spec:
  metrics: [{providers: [{name: prometheus}]}]
  accessLogging: [{filter: {expression: "response.code >= 400"}}]
  tracing: [{randomSamplingPercentage: 101}]
`,
      'bad.yaml',
    ),
  );
  const text = issues.map((i) => `${i.field} ${i.message}`).join('\n');
  assert.match(text, /metrics.*not supported/);
  assert.match(text, /accessLogging\[0\]\.filter.*not supported/);
  assert.match(text, /randomSamplingPercentage/);
  assert.ok(
    issues.every((i) => i.line !== undefined),
    'every issue has a line',
  );
});

test('generated access_log: JSON keys survive the wire and the proxy writes the line it describes', () => {
  const s = snap(`${MESH_CONFIG}---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging: [{providers: [{name: envoy}]}]
`);
  const proxy = proxyFromNode({
    id: 'reviews-1',
    cluster: 'reviews',
    metadata: jsonToStruct({
      WEFT_SIDECAR: 'true',
      NAMESPACE: 'default',
      LABELS: { app: 'reviews' },
      WEFT_SERVICE: 'reviews',
      WEFT_APP_PORT: '3000',
    }),
  });
  const [outbound] = generateListeners({ snapshot: s, proxy, warn: () => {} }, ['outbound']);
  const wire = camelize(
    decodeResource(TYPE_URL.listener, encodeResource(TYPE_URL.listener, outbound.resource)),
  );
  const hcm = compileListener(wire as Record<string, unknown>).filterChains[0].terminal;
  assert.equal(hcm.kind, 'http');
  const [log] = hcm.kind === 'http' ? hcm.hcm.accessLogs : [];
  assert.equal(log.path, '/dev/stdout');
  const line = JSON.parse(
    log.format({
      startTime: 0,
      protocol: 'HTTP/1.1',
      requestHeader: (h) => ({ ':method': 'GET', ':path': '/x' })[h],
      responseHeader: () => undefined,
      responseCode: 204,
      responseFlags: '-',
      responseCodeDetails: '',
      bytesReceived: 0,
      bytesSent: 0,
      durationMs: 1,
      upstreamHost: '',
      upstreamCluster: '',
      upstreamLocalAddress: '',
      downstreamLocalAddress: '',
      downstreamRemoteAddress: '',
      requestedServerName: '',
      routeName: '',
      downstreamPeerUriSan: '',
    } satisfies AccessLogEntry),
  );
  assert.equal(line.response_code, 204);
  assert.equal(line.path, '/x');
  assert.equal(line.start_time, '1970-01-01T00:00:00.000Z');
});

test('tracing: the provider of MeshConfig, sampling from Telemetry, generated and compiled by the proxy', () => {
  const s = snap(`apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec:
  extensionProviders:
  - name: otel
    opentelemetry: {service: 127.0.0.1, port: 4318}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing: [{providers: [{name: otel}], randomSamplingPercentage: 25}]
`);
  assert.deepEqual(telemetryFor(s, reviews, 'SERVER').tracing, {
    provider: 'otel',
    service: '127.0.0.1',
    port: 4318,
    path: '/v1/traces',
    samplingPercent: 25,
    reporting: true,
  });
  const proxy = proxyFromNode({
    id: 'reviews-1',
    cluster: 'reviews',
    metadata: jsonToStruct({
      WEFT_SIDECAR: 'true',
      NAMESPACE: 'default',
      LABELS: { app: 'reviews' },
      WEFT_SERVICE: 'reviews',
      WEFT_APP_PORT: '3000',
    }),
  });
  const [inbound] = generateListeners({ snapshot: s, proxy, warn: () => {} }, ['inbound']);
  const wire = camelize(
    decodeResource(TYPE_URL.listener, encodeResource(TYPE_URL.listener, inbound.resource)),
  );
  const chain = compileListener(wire as Record<string, unknown>).filterChains[0].terminal;
  assert.ok(chain.kind === 'http');
  assert.deepEqual(chain.hcm.tracing, {
    samplingPercent: 25,
    collector: { host: '127.0.0.1', port: 4318, path: '/v1/traces' },
    serviceName: 'reviews.default',
  });
  const unknown: string[] = [];
  const t = snap(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: t, namespace: default}
spec:
  tracing: [{providers: [{name: zipkin}]}]
`);
  generateListeners({ snapshot: t, proxy, warn: (_k, m) => unknown.push(m) }, ['inbound']);
  assert.match(unknown.join('\n'), /provider "zipkin" is not defined/);
});
