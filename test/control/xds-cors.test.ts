// CORS in generated xDS: client-side HCMs carry the CORS filter, routes with a policy carry it per route, as it encodes on the wire.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { generateListeners } from '../../src/control/xds/generate/lds.ts';
import { generateRoutes } from '../../src/control/xds/generate/rds.ts';
import { proxyFromNode } from '../../src/control/xds/node.ts';
import { DEFAULT_MESH } from '../../src/model/mesh.ts';
import { decodeResource, encodeResource, unknownFields } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { sidecar } from '../helpers/analyze-fixture.ts';

const FIXTURE = new URL('../fixtures/upstream/istio/cors.yaml', import.meta.url);

test("a VirtualService corsPolicy becomes the route's CorsPolicy under envoy.filters.http.cors", () => {
  const resources = parseResources(readFileSync(FIXTURE, 'utf8'), 'cors.yaml').map((p) => p.resource);
  const snapshot = snapshotFromResources({
    resources,
    workloads: [{ ...sidecar('website'), service: { name: 'website', port: 80, protocol: 'HTTP' } }],
    mesh: DEFAULT_MESH,
    version: 1,
  });
  const proxy = proxyFromNode({
    id: 'client-1',
    cluster: 'client',
    metadata: jsonToStruct({ WEFT_SIDECAR: 'true', NAMESPACE: 'default', LABELS: { app: 'client' } }),
  });
  const ctx = { snapshot, proxy, warn: () => {} };
  const [outbound] = generateRoutes(ctx, undefined).filter((r) => r.name === 'outbound');
  assert.deepEqual(unknownFields(TYPE_URL.route, outbound.resource), []);
  // biome-ignore lint/suspicious/noExplicitAny: decoded xDS JSON is walked dynamically in tests
  const decoded = decodeResource(TYPE_URL.route, encodeResource(TYPE_URL.route, outbound.resource)) as any;
  // biome-ignore lint/suspicious/noExplicitAny: decoded xDS JSON is walked dynamically in tests
  const host = decoded.virtual_hosts.find((v: any) => v.name === 'website.default.svc.cluster.local:80');
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const routed = host.routes.find((r: any) => r.typed_per_filter_config !== undefined);
  const policy = routed.typed_per_filter_config['envoy.filters.http.cors'];
  assert.equal(policy['@type'], 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy');
  assert.deepEqual(policy.allow_origin_string_match, [
    { exact: 'https://app.example.com' },
    { safe_regex: { regex: 'https://.*\\.partner\\.example' } },
  ]);
  assert.equal(policy.max_age, '86400');
  assert.deepEqual(policy.allow_credentials, { value: true });
  const listener = generateListeners(ctx, undefined).find((l) => l.name === 'outbound');
  const filters = JSON.stringify(listener?.resource);
  assert.ok(
    filters.indexOf('envoy.filters.http.cors') < filters.indexOf('envoy.filters.http.fault'),
    'CORS runs before fault',
  );
});
