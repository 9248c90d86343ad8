// Network RBAC for opaque TCP, simulation style: policy YAML → snapshot → inbound TCP listener → proto round trip →
// the proxy's own listener compiler → a connection's fate (admitted or closed) and the tcp.rbac.* counters.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { describe, test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { generateListeners } from '../../src/control/xds/generate/lds.ts';
import { proxyFromNode } from '../../src/control/xds/node.ts';
import { DEFAULT_MESH } from '../../src/model/snapshot.ts';
import { compileIn } from '../../src/proxy/common/compile-scope.ts';
import type { Msg } from '../../src/proxy/common/fields.ts';
import { compileListener, type ListenerConfig } from '../../src/proxy/listener/listener-config.ts';
import { admitNetworkRbac, NETWORK_RBAC_STATS } from '../../src/proxy/listener/network-rbac-filter.ts';
import { setTlsConnectionFacts } from '../../src/proxy/tls/connection-facts.ts';
import { camelize } from '../../src/proxy/xds-client/camelize.ts';
import { decodeResource, encodeResource, unknownFields } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';

const APP_PORT = 5432;

/** A weft sidecar of the TCP service `db` in namespace `foo`, app port 5432. */
const db = proxyFromNode({
  id: 'db-1',
  cluster: 'db',
  metadata: jsonToStruct({
    WEFT_SIDECAR: 'true',
    NAMESPACE: 'foo',
    SERVICE_ACCOUNT: 'db',
    LABELS: { app: 'db' },
    WEFT_SERVICE: 'db',
    WEFT_SERVICE_PROTOCOL: 'TCP',
    WEFT_APP_PORT: String(APP_PORT),
    WEFT_INBOUND_PORT: '15006',
  }),
});

function ap(name: string, spec: string): string {
  return `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: foo}\nspec:\n${spec}---\n`;
}

interface Compiled {
  listener: ListenerConfig;
  /** Generated network filter names of the first chain. */
  filterNames: string[];
  scope: object;
}

/** Generates the inbound listener under `yaml`, sends it through the proto, and compiles it as the proxy does. */
function inbound(yaml: string, extraResources = ''): Compiled {
  const resources = parseResources(yaml + extraResources, 'policy.yaml').map((d) => d.resource);
  const snapshot = snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
  const warnings: string[] = [];
  const [generated] = generateListeners({ snapshot, proxy: db, warn: (_k, m) => warnings.push(m) }, [
    'inbound',
  ]);
  assert.ok(generated, `no inbound listener (${warnings.join('; ')})`);
  assert.deepEqual(
    unknownFields(TYPE_URL.listener, generated.resource),
    [],
    'fields the proto does not have',
  );
  const decoded = camelize(
    decodeResource(TYPE_URL.listener, encodeResource(TYPE_URL.listener, generated.resource)),
  ) as Msg;
  const scope = {};
  const listener = compileIn(scope, () => compileListener(decoded));
  const chains = (decoded.filterChains as Msg[]) ?? [];
  const filterNames = ((chains[0]?.filters as Msg[]) ?? []).map((f) => f.name as string);
  return { listener, filterNames, scope };
}

interface Peer {
  principal?: string;
  ip?: string;
}

/** Whether a connection from `peer` gets through every chain's RBAC (all chains carry the same filters). */
function admitted(c: Compiled, peer: Peer = {}): boolean {
  const chains = [...c.listener.filterChains, ...(c.listener.defaultChain ? [c.listener.defaultChain] : [])];
  const outcomes = chains.map((chain) => {
    let destroyed = false;
    const socket = {
      remoteAddress: peer.ip ?? '127.0.0.1',
      localAddress: '127.0.0.1',
      localPort: 15006,
      destroy() {
        destroyed = true;
      },
    };
    if (peer.principal) setTlsConnectionFacts(socket, { peerPrincipal: peer.principal });
    const ok = admitNetworkRbac(chain.networkRbac, socket as unknown as net.Socket);
    assert.equal(destroyed, !ok, 'a denied connection is closed at once');
    return ok;
  });
  assert.ok(
    outcomes.every((o) => o === outcomes[0]),
    'every chain decides alike',
  );
  return outcomes[0];
}

const sa = (ns: string, name: string) => `spiffe://cluster.local/ns/${ns}/sa/${name}`;

describe('AuthorizationPolicy on an opaque TCP workload', () => {
  test('no policy: tcp_proxy alone, every connection admitted', () => {
    const c = inbound('');
    assert.deepEqual(c.filterNames, ['envoy.filters.network.tcp_proxy']);
    assert.equal(admitted(c), true);
  });

  test('ALLOW principals: the listener is served, network RBAC before tcp_proxy admits only that peer', () => {
    const c = inbound(
      ap(
        'p',
        '  action: ALLOW\n  rules:\n  - from: [{source: {principals: [cluster.local/ns/foo/sa/web]}}]\n',
      ),
    );
    assert.deepEqual(c.filterNames, ['envoy.filters.network.rbac', 'envoy.filters.network.tcp_proxy']);
    assert.equal(admitted(c, { principal: sa('foo', 'web') }), true);
    assert.equal(admitted(c, { principal: sa('foo', 'other') }), false);
    assert.equal(admitted(c), false, 'a plaintext peer has no principal');
    const stats = NETWORK_RBAC_STATS.get('tcp.rbac.', c.scope);
    assert.equal(stats.allowed, 1 * chainsOf(c));
    assert.equal(stats.denied, 2 * chainsOf(c));
  });

  test('namespaces, ipBlocks and ports apply to TCP', () => {
    const ns = inbound(ap('p', '  rules:\n  - from: [{source: {namespaces: [bar]}}]\n'));
    assert.equal(admitted(ns, { principal: sa('bar', 'x') }), true);
    assert.equal(admitted(ns, { principal: sa('foo', 'x') }), false);
    const ip = inbound(
      ap('p', '  action: DENY\n  rules:\n  - from: [{source: {ipBlocks: [127.0.0.2/32]}}]\n'),
    );
    assert.equal(admitted(ip, { ip: '127.0.0.2' }), false);
    assert.equal(admitted(ip, { ip: '127.0.0.1' }), true);
    const otherPort = inbound(ap('p', '  rules:\n  - to: [{operation: {ports: ["9999"]}}]\n'));
    assert.equal(admitted(otherPort, { principal: sa('foo', 'web') }), false, 'ALLOW of another port');
    const ownPort = inbound(ap('p', `  rules:\n  - to: [{operation: {ports: ["${APP_PORT}"]}}]\n`));
    assert.equal(admitted(ownPort), true);
  });

  test('ALLOW with an HTTP-only field: that rule matches nothing on TCP; the other rules still apply', () => {
    const c = inbound(
      ap(
        'p',
        '  rules:\n  - to: [{operation: {methods: [GET]}}]\n  - from: [{source: {principals: [cluster.local/ns/foo/sa/web]}}]\n',
      ),
    );
    assert.equal(admitted(c, { principal: sa('foo', 'web') }), true);
    assert.equal(admitted(c, { principal: sa('foo', 'other') }), false, 'the methods rule admits no one');
    const only = inbound(ap('p', '  rules:\n  - from: [{source: {requestPrincipals: ["*"]}}]\n'));
    assert.equal(
      admitted(only, { principal: sa('foo', 'web') }),
      false,
      'an ALLOW with no TCP rule admits no one',
    );
  });

  test('DENY with an HTTP-only field: the field is dropped, so the rule denies more', () => {
    const c = inbound(
      ap(
        'p',
        '  action: DENY\n  rules:\n  - from: [{source: {principals: [cluster.local/ns/foo/sa/web]}}]\n    to: [{operation: {paths: [/admin]}}]\n',
      ),
    );
    assert.equal(
      admitted(c, { principal: sa('foo', 'web') }),
      false,
      'denied whatever the path would have been',
    );
    assert.equal(admitted(c, { principal: sa('foo', 'other') }), true);
    const when = inbound(
      ap('p', "  action: DENY\n  rules:\n  - when: [{key: 'request.headers[x-token]', values: [bad]}]\n"),
    );
    assert.equal(
      admitted(when, { principal: sa('foo', 'web') }),
      false,
      'a header-only DENY rule denies all',
    );
  });

  test('AUDIT and dry-run policies only count (logged, shadow) and never close a connection', () => {
    const audit = inbound(ap('p', '  action: AUDIT\n  rules:\n  - from: [{source: {namespaces: [foo]}}]\n'));
    assert.equal(admitted(audit, { principal: sa('foo', 'web') }), true);
    assert.equal(admitted(audit, { principal: sa('bar', 'web') }), true);
    const logged = NETWORK_RBAC_STATS.get('tcp.rbac.', audit.scope);
    assert.equal(logged.logged, chainsOf(audit));
    assert.equal(logged.notLogged, chainsOf(audit));
    const dry = inbound(
      `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: d\n  namespace: foo\n  annotations: {istio.io/dry-run: "true"}\nspec:\n  action: DENY\n  rules: [{}]\n---\n`,
    );
    assert.equal(admitted(dry, { principal: sa('foo', 'web') }), true);
    const shadow = NETWORK_RBAC_STATS.get('tcp.rbac.istio_dry_run_deny_', dry.scope);
    assert.equal(shadow.shadowDenied, chainsOf(dry));
  });
});

function chainsOf(c: Compiled): number {
  return c.listener.filterChains.length + (c.listener.defaultChain ? 1 : 0);
}
