// Linkerd Server, AuthorizationPolicy, MeshTLSAuthentication, NetworkAuthentication and ServerAuthorization: reading, refusals, and the RBAC they become.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { describe, test } from 'node:test';
import { toSidecarConfig } from '../../src/cli/proxy.ts';
import { parseResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { generateListeners } from '../../src/control/xds/generate/lds.ts';
import { inboundSecurityFilters } from '../../src/control/xds/generate/security.ts';
import { proxyFromNode } from '../../src/control/xds/node.ts';
import type { PolicyTarget } from '../../src/model/policies.ts';
import { DEFAULT_MESH } from '../../src/model/snapshot.ts';
import { compileRbacFilter } from '../../src/proxy/http/filters/rbac/rbac-filter.ts';
import { RbacInput } from '../../src/proxy/http/filters/rbac/rbac-input.ts';
import type { RequestHead } from '../../src/proxy/http/request-head.ts';
import { compileListener, type FilterChainConfig } from '../../src/proxy/listener/listener-config.ts';
import { admitNetworkRbac } from '../../src/proxy/listener/network-rbac-filter.ts';
import { setTlsConnectionFacts } from '../../src/proxy/tls/connection-facts.ts';
import { camelize } from '../../src/proxy/xds-client/camelize.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { issuesOf } from './util.ts';

const P = 'policy.linkerd.io';
const APP_PORT = 8080;
const WEB: PolicyTarget = { namespace: 'emoji', labels: { app: 'web' }, serviceAccount: 'web' };

const SERVER = `apiVersion: ${P}/v1beta3
kind: Server
metadata: {name: web-http, namespace: emoji, labels: {tier: front}}
spec:
  podSelector: {matchLabels: {app: web}}
  port: ${APP_PORT}
  proxyProtocol: unknown
`;

function issues(text: string): string[] {
  return issuesOf(() => parseResources(text, 'authz.yaml')).map(
    (i) => `${i.line} ${i.field}: ${i.message} [${i.reason}]`,
  );
}

/** A client: its verified identity (plaintext: none) and address. */
interface Client {
  sa?: string;
  ns?: string;
  ip?: string;
}

/** The RBAC filters weft generates for WEB on `port`, compiled as the proxy does, and the client's request. */
function rbacFor(yaml: string, client: Client, port: number, portName?: string) {
  const resources = parseResources(yaml, 'authz.yaml').map((d) => d.resource);
  const snapshot = snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
  const connection = {
    sourceIp: client.ip ?? '127.0.0.1',
    destinationPort: port,
    ...(client.sa === undefined
      ? {}
      : { peerPrincipal: `spiffe://cluster.local/ns/${client.ns ?? 'emoji'}/sa/${client.sa}` }),
  };
  const input = new RbacInput({} as RequestHead, connection, undefined);
  const filters = inboundSecurityFilters(snapshot, WEB, port, 'string_match', portName).map((filter) => {
    const { '@type': _type, ...config } = filter.typed_config as Record<string, unknown>;
    return compileRbacFilter(camelize(config) as Record<string, unknown>, 'test');
  });
  return { filters, input };
}

/** Whether the RBAC filters weft generates for WEB on `port` let the client's request through. */
function admits(yaml: string, client: Client, port = APP_PORT, portName?: string): boolean {
  const { filters, input } = rbacFor(yaml, client, port, portName);
  return filters.every((f) => f.rules === undefined || f.rules.decide(input).outcome === 'allowed');
}

/** Whether a dry-run (shadow) rule would refuse the client's request. */
function shadowDenies(yaml: string, client: Client): boolean {
  const { filters, input } = rbacFor(yaml, client, APP_PORT);
  return filters.some((f) => f.shadowRules?.decide(input).outcome === 'denied');
}

const MESH_TLS = `---
apiVersion: ${P}/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: vote-bot, namespace: emoji}
spec:
  identities: [vote-bot.emoji.serviceaccount.identity.linkerd.cluster.local]
`;

function policy(target: string, refs: string): string {
  return `---
apiVersion: ${P}/v1alpha1
kind: AuthorizationPolicy
metadata: {name: p, namespace: emoji}
spec:
  targetRef: ${target}
  requiredAuthenticationRefs: ${refs}
`;
}

describe('Linkerd Server', () => {
  test('accessPolicy admits besides the authorizations; audit only counts refusals (shadow rules)', () => {
    const all = SERVER.replace('proxyProtocol: unknown', 'accessPolicy: all-authenticated');
    const withPolicy = `${all + MESH_TLS}---
apiVersion: ${P}/v1alpha1
kind: AuthorizationPolicy
metadata: {name: p, namespace: emoji}
spec:
  targetRef: {kind: Server, name: web-http}
  requiredAuthenticationRefs: [{kind: MeshTLSAuthentication, name: vote-bot}]
`;
    assert.equal(admits(withPolicy, { sa: 'other' }), true, 'all-authenticated admits beyond the policy');
    assert.equal(admits(withPolicy, {}), false);
    const audit = SERVER.replace('proxyProtocol: unknown', 'accessPolicy: audit');
    assert.equal(admits(audit, {}), true);
    assert.equal(shadowDenies(audit, {}), true);
    assert.equal(
      shadowDenies(audit + MESH_TLS + withPolicy.slice(all.length + MESH_TLS.length), { sa: 'vote-bot' }),
      false,
    );
  });

  test('a Server nothing authorizes denies its port only; accessPolicy opens it', () => {
    assert.equal(admits(SERVER, { sa: 'vote-bot' }), false);
    assert.equal(admits(SERVER, {}), false);
    assert.equal(admits(SERVER, { sa: 'vote-bot' }, 9090), true, 'another port is not the Server');
    const all = SERVER.replace('proxyProtocol: unknown', 'accessPolicy: all-authenticated');
    assert.equal(admits(all, { sa: 'x' }), true);
    assert.equal(admits(all, {}), false);
    assert.equal(
      admits(SERVER.replace('proxyProtocol: unknown', 'accessPolicy: all-unauthenticated'), {}),
      true,
    );
  });

  test('a named port selects the sidecars that gave their app port that name (--app-port-name)', () => {
    const named = SERVER.replace(`port: ${APP_PORT}`, 'port: grpc');
    assert.equal(admits(named, { sa: 'x' }, APP_PORT, 'grpc'), false);
    assert.equal(admits(named, { sa: 'x' }, APP_PORT, 'http'), true, 'another name');
    assert.equal(admits(named, { sa: 'x' }, APP_PORT), true, 'an unnamed port');
  });

  test("a Server in the root namespace selects that namespace's workloads only", () => {
    const root = SERVER.replace('namespace: emoji', `namespace: ${DEFAULT_MESH.rootNamespace}`);
    assert.equal(admits(root, {}), true, 'WEB is in namespace emoji');
  });

  test('refusals name the field and line: bad port names, matchExpressions, cluster and audit policies', () => {
    assert.deepEqual(issues(SERVER.replace(`port: ${APP_PORT}`, 'port: Web_Port')), [
      '6 spec.port: "Web_Port" is not a port number or a port name (like http or grpc) [invalid]',
    ]);
    assert.deepEqual(
      issues(
        SERVER.replace('{matchLabels: {app: web}}', '{matchExpressions: [{key: app, operator: Exists}]}'),
      ),
      [
        '5 spec.podSelector.matchExpressions: field matchExpressions is not supported by weft (yet): select the workloads with matchLabels [unsupported]',
      ],
    );
    assert.match(
      issues(SERVER.replace('proxyProtocol: unknown', 'accessPolicy: cluster-authenticated'))[0],
      /^7 spec.accessPolicy: accessPolicy cluster-authenticated is not supported by weft: weft has no cluster networks/,
    );
    const warned = parseResources(SERVER.replace('unknown', 'HTTP/2'), 'a.yaml').flatMap((d) => d.warnings);
    assert.match(
      warned.join('\n'),
      /spec.proxyProtocol: not applied: weft takes a port's protocol from its sidecar/,
    );
  });
});

describe('Linkerd AuthorizationPolicy', () => {
  const server = `{group: ${P}, kind: Server, name: web-http}`;

  test('MeshTLSAuthentication: the named identity is admitted, another identity and plaintext are not', () => {
    const yaml =
      SERVER + MESH_TLS + policy(server, `[{group: ${P}, kind: MeshTLSAuthentication, name: vote-bot}]`);
    assert.equal(admits(yaml, { sa: 'vote-bot' }), true);
    assert.equal(admits(yaml, { sa: 'web' }), false);
    assert.equal(admits(yaml, {}), false);
  });

  test('identityRefs, a Namespace target and "*"', () => {
    const refs = MESH_TLS.replace(
      'identities: [vote-bot.emoji.serviceaccount.identity.linkerd.cluster.local]',
      'identityRefs: [{kind: ServiceAccount, name: web, namespace: other}, {kind: Namespace, name: tools}]',
    );
    const yaml =
      SERVER +
      refs +
      policy(
        '{kind: Namespace, name: emoji}',
        `[{group: ${P}, kind: MeshTLSAuthentication, name: vote-bot}]`,
      );
    assert.equal(admits(yaml, { sa: 'web', ns: 'other' }), true);
    assert.equal(admits(yaml, { sa: 'anyone', ns: 'tools' }), true);
    assert.equal(admits(yaml, { sa: 'web', ns: 'emoji' }), false);
    const any =
      SERVER +
      MESH_TLS.replace(/identities: \[.*\]/, 'identities: ["*"]') +
      policy(server, `[{group: ${P}, kind: MeshTLSAuthentication, name: vote-bot}]`);
    assert.equal(admits(any, { sa: 'x', ns: 'y' }), true);
    assert.equal(admits(any, {}), false);
  });

  test('refs are ANDed, policies ORed; NetworkAuthentication excepts; a missing ref admits no one', () => {
    const net = `---
apiVersion: ${P}/v1alpha1
kind: NetworkAuthentication
metadata: {name: lan, namespace: emoji}
spec:
  networks: [{cidr: 10.0.0.0/8, except: [10.9.0.0/16]}]
`;
    const both = `[{group: ${P}, kind: MeshTLSAuthentication, name: vote-bot}, {group: ${P}, kind: NetworkAuthentication, name: lan}]`;
    const yaml = SERVER + MESH_TLS + net + policy(server, both);
    assert.equal(admits(yaml, { sa: 'vote-bot', ip: '10.1.2.3' }), true);
    assert.equal(admits(yaml, { sa: 'vote-bot', ip: '192.168.1.1' }), false, 'outside the network');
    assert.equal(admits(yaml, { sa: 'vote-bot', ip: '10.9.1.1' }), false, 'in the exception');
    assert.equal(admits(yaml, { ip: '10.1.2.3' }), false, 'plaintext');
    const second = policy(server, '[{kind: ServiceAccount, name: web}]').replace('name: p,', 'name: q,');
    assert.equal(
      admits(yaml + second, { sa: 'web', ip: '192.168.1.1' }),
      true,
      'the second policy admits web',
    );
    const netOnly = SERVER + net + policy(server, `[{group: ${P}, kind: NetworkAuthentication, name: lan}]`);
    assert.equal(admits(netOnly, { ip: '10.1.2.3' }), true, 'plaintext from the network');
    assert.equal(admits(netOnly, { ip: '10.9.0.1' }), false);
    const missing = SERVER + policy(server, `[{group: ${P}, kind: MeshTLSAuthentication, name: nobody}]`);
    assert.equal(admits(missing, { sa: 'vote-bot' }), false);
  });

  test('refusals: route and unknown targets, unknown authentication kinds, non-ServiceAccount identities', () => {
    assert.deepEqual(
      issues(policy(`{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}`, '[]').slice(4)),
      [
        "5 spec.targetRef.kind: targetRef kind HTTPRoute is not supported by weft: authorize the route's Server (every route of it) instead [unsupported]",
      ],
    );
    assert.deepEqual(issues(policy(server, '[{kind: Secret, name: s}]').slice(4)), [
      '6 spec.requiredAuthenticationRefs[0].kind: authentication Secret is not supported by weft: name a MeshTLSAuthentication, NetworkAuthentication (policy.linkerd.io) or ServiceAccount [unsupported]',
    ]);
    assert.match(
      issues(MESH_TLS.slice(4).replace('vote-bot.emoji.serviceaccount', 'spiffe://x'))[0],
      /^5 spec.identities\[0\]: identity "spiffe:\/\/x.identity.linkerd.cluster.local" is not supported by weft/,
    );
    assert.deepEqual(issues(MESH_TLS.slice(4).replace(/identities: .*/, 'networks: []')), [
      '4 spec.identities: set exactly one of identities and identityRefs [missing]',
      '5 spec.networks: unknown field networks [unknown-field]',
    ]);
  });
});

describe('Linkerd ServerAuthorization (deprecated)', () => {
  const sa = (client: string, server = '{selector: {matchLabels: {tier: front}}}') => `---
apiVersion: ${P}/v1beta1
kind: ServerAuthorization
metadata: {name: sa, namespace: emoji}
spec:
  server: ${server}
  client: ${client}
`;

  test('is enforced (by Server name or labels) with a warning naming AuthorizationPolicy', () => {
    const yaml = SERVER + sa('{meshTLS: {serviceAccounts: [{name: vote-bot}]}}');
    assert.equal(admits(yaml, { sa: 'vote-bot' }), true);
    assert.equal(admits(yaml, { sa: 'web' }), false);
    const warned = parseResources(yaml, 'a.yaml').flatMap((d) => d.warnings);
    assert.match(warned.join('\n'), /ServerAuthorization is deprecated: write an AuthorizationPolicy/);
    const unauth =
      SERVER + sa('{unauthenticated: true, networks: [{cidr: 127.0.0.0/8}]}', '{name: web-http}');
    assert.equal(admits(unauth, {}), true);
    assert.equal(admits(unauth, { ip: '10.0.0.1' }), false);
    assert.equal(
      admits(SERVER + sa('{unauthenticated: true}', '{name: other}'), {}),
      false,
      'not this Server',
    );
  });

  test('refuses unauthenticatedTLS and a client that is neither', () => {
    assert.deepEqual(issues(sa('{meshTLS: {unauthenticatedTLS: true}}').slice(4)), [
      '6 spec.client.meshTLS.identities: set identities or serviceAccounts [missing]',
      '6 spec.client.meshTLS.unauthenticatedTLS: field unauthenticatedTLS is not supported by weft (yet): every TLS client of the mesh is authenticated; use identities ["*"] [unsupported]',
    ]);
    assert.deepEqual(issues(sa('{networks: [{cidr: 10.0.0.0/8}]}').slice(4)), [
      '6 spec.client.meshTLS: set exactly one of meshTLS and unauthenticated: true [missing]',
    ]);
  });
});

test('weft proxy --app-port-name takes a Kubernetes port name and refuses anything else', () => {
  const flags = (appPortName: string) =>
    toSidecarConfig({
      service: 'emoji',
      namespace: 'default',
      version: 'v1',
      label: [],
      appPort: '8080',
      appPortName,
      servicePort: '80',
      protocol: 'auto',
      inboundPort: '0',
      outboundPort: '0',
      adminPort: '0',
      server: 'http://127.0.0.1:1',
      drainTimeout: '5s',
      concurrency: '1',
    });
  assert.equal(flags('grpc').appPortName, 'grpc');
  assert.throws(() => flags('Web_Port'), /--app-port-name "Web_Port" must be a port name like http or grpc/);
  assert.throws(() => flags('a-very-long-port-name'), /must be a port name/);
});

test('a TCP sidecar: a Server of its port is enforced by network RBAC (authorized clients pass), another port leaves it alone', () => {
  const tcp = proxyFromNode({
    id: 'web-1',
    cluster: 'web',
    metadata: jsonToStruct({
      WEFT_SIDECAR: 'true',
      NAMESPACE: 'emoji',
      SERVICE_ACCOUNT: 'web',
      LABELS: { app: 'web' },
      WEFT_SERVICE: 'web',
      WEFT_SERVICE_PROTOCOL: 'TCP',
      WEFT_APP_PORT: '5432',
      WEFT_INBOUND_PORT: '15006',
      WEFT_OUTBOUND_PORT: '15001',
    }),
  });
  const inbound = (yaml: string) => {
    const resources = parseResources(yaml, 'authz.yaml').map((d) => d.resource);
    const snapshot = snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
    const warnings: string[] = [];
    const found = generateListeners({ snapshot, proxy: tcp, warn: (_k, m) => warnings.push(m) }, ['inbound']);
    assert.deepEqual(warnings, []);
    assert.equal(found.length, 1, 'the inbound listener is served');
    return compileListener(camelize(found[0].resource) as Record<string, unknown>).filterChains[0];
  };
  /** Whether a connection from `sa` in emoji (none: plaintext) passes the chain's network RBAC. */
  const admitsTcp = (chain: FilterChainConfig, sa?: string) => {
    const socket = { remoteAddress: '127.0.0.1', localAddress: '127.0.0.1', localPort: 15006, destroy() {} };
    if (sa) setTlsConnectionFacts(socket, { peerPrincipal: `spiffe://cluster.local/ns/emoji/sa/${sa}` });
    return admitNetworkRbac(chain.networkRbac, socket as unknown as net.Socket);
  };
  const authorized = `${MESH_TLS}${policy('{kind: Server, name: web-http}', '[{kind: MeshTLSAuthentication, name: vote-bot}]')}`;
  const other = inbound(SERVER + authorized);
  assert.equal(admitsTcp(other, 'anyone'), true, 'the Server selects port 8080, not 5432');
  assert.equal(admitsTcp(other), true);
  const own = inbound(SERVER.replace(`port: ${APP_PORT}`, 'port: 5432') + authorized);
  assert.equal(own.networkRbac.length, 1);
  assert.equal(admitsTcp(own, 'vote-bot'), true, 'an authorized client is let through');
  assert.equal(admitsTcp(own, 'web'), false);
  assert.equal(admitsTcp(own), false, 'a plaintext client has no identity');
});
