// Decoded-resource helpers: snake_case → camelCase, durations, wrappers, unknown-field rejection; stats merging.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergePrometheus } from '../../src/proxy/admin/prometheus.ts';
import { compileCluster } from '../../src/proxy/cluster/cluster-config.ts';
import { checkFields, durationMs, wrappedNum } from '../../src/proxy/common/fields.ts';
import { compileListener } from '../../src/proxy/listener/listener-config.ts';
import { camelize } from '../../src/proxy/xds-client/camelize.ts';

test('camelize converts proto field names and leaves map keys and @type alone', () => {
  const out = camelize({
    route_config_name: 'x',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 't', explicit_http_config: {} },
    },
    list_of: [{ port_value: 1 }],
  });
  assert.deepEqual(out, {
    routeConfigName: 'x',
    typedExtensionProtocolOptions: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 't', explicitHttpConfig: {} },
    },
    listOf: [{ portValue: 1 }],
  });
});

test('durations, wrappers and defaults as docs/xds.md describes them', () => {
  assert.equal(durationMs({ seconds: 1, nanos: 500_000_000 }, 7), 1500);
  assert.equal(durationMs({}, 7), 0, 'an empty Duration is present and means zero');
  assert.equal(durationMs(undefined, 7), 7);
  assert.equal(durationMs('2.5s', 0), 2500);
  assert.equal(wrappedNum({ value: 80 }, 1), 80);
  assert.equal(wrappedNum(undefined, 1), 1);
});

test('a set field weft does not know is rejected in the proto spelling; default values are not', () => {
  assert.throws(
    () => checkFields({ name: 'a', someNewField: 3 }, 'Cluster a', ['name']),
    /Cluster a: field 'some_new_field'/,
  );
  checkFields({ name: 'a', someNewField: 0, other: '', list: [], flag: false, obj: null }, 'Cluster a', [
    'name',
  ]);
  assert.throws(() => compileListener({ name: 'l', address: { pipe: { path: '/x' } } }), /socket_address/);
  assert.throws(
    () => compileCluster({ name: 'c', type: 'ORIGINAL_DST', lbPolicy: 'MAGLEV' }),
    /Cluster c: lb_policy MAGLEV on an ORIGINAL_DST cluster \(use CLUSTER_PROVIDED\) is not supported/,
  );
  const c = compileCluster({
    name: 'c',
    type: 'EDS',
    lbPolicy: 'MAGLEV',
    maglevLbConfig: { tableSize: { value: 65537 } },
    circuitBreakers: { thresholds: [{ maxConnections: { value: 4294967295 }, trackRemaining: true }] },
  });
  assert.equal(c.lbPolicy, 'MAGLEV');
  assert.throws(
    () => compileCluster({ name: 'c', lbPolicy: 'MAGLEV', maglevLbConfig: { tableSize: { value: 1000 } } }),
    /not prime/,
  );
});

test('multi-core stats: counters add up across workers, membership gauges do not', () => {
  const a =
    '# TYPE envoy_cluster_upstream_rq_total counter\nenvoy_cluster_upstream_rq_total{envoy_cluster_name="c"} 3\n# TYPE envoy_cluster_membership_total gauge\nenvoy_cluster_membership_total{envoy_cluster_name="c"} 2\n';
  const b =
    '# TYPE envoy_cluster_upstream_rq_total counter\nenvoy_cluster_upstream_rq_total{envoy_cluster_name="c"} 4\n# TYPE envoy_cluster_membership_total gauge\nenvoy_cluster_membership_total{envoy_cluster_name="c"} 2\n';
  const merged = mergePrometheus([a, b]);
  assert.match(merged, /envoy_cluster_upstream_rq_total\{envoy_cluster_name="c"\} 7\n/);
  assert.match(merged, /envoy_cluster_membership_total\{envoy_cluster_name="c"\} 2\n/);
  assert.equal(merged.match(/# TYPE envoy_cluster_upstream_rq_total/g)?.length, 1);
});
