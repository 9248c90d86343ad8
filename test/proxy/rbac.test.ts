// The RBAC HTTP filter driven by Envoy RBAC configs shaped as Istio generates them (through the real protos).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UnsupportedFieldError } from '../../src/errors.ts';
import { RBAC_TYPE_URL, rbacFilterFactory } from '../../src/proxy/http/filters/rbac/rbac-filter.ts';
import { normalizePath } from '../../src/proxy/http/filters/rbac/rbac-input.ts';
import { rbacStats } from '../../src/proxy/http/filters/rbac/rbac-stats.ts';
import { HTTP_FILTERS } from '../../src/proxy/http/filters/registry.ts';
import { RecordingStream, type RequestSpec, viaWire } from './rbac-helpers.ts';

type Obj = Record<string, unknown>;

const ANY_PERMISSION = { and_rules: { rules: [{ any: true }] } };
const ANY_PRINCIPAL = { and_ids: { ids: [{ any: true }] } };
const NEVER = {
  permissions: [{ not_rule: { any: true } }],
  principals: [{ not_id: { any: true } }],
};

/** An RBAC filter config with one rule set. */
function rbac(action: string, policies: Record<string, Obj>, extra: Obj = {}): Obj {
  return { rules: { action, policies }, ...extra };
}

/** Parses `config` as the proxy would and runs one request through it. */
function run(config: Obj, request: RequestSpec = {}): RecordingStream {
  const parsed = rbacFilterFactory.parse('envoy.filters.http.rbac', viaWire(RBAC_TYPE_URL, config), 'rbac');
  const stream = new RecordingStream(request);
  const status = parsed!.createFilter().decodeHeaders(stream);
  assert.equal(
    status === 'StopIteration',
    stream.reply !== undefined,
    'StopIteration iff a local reply was sent',
  );
  return stream;
}

function allowed(config: Obj, request: RequestSpec = {}): boolean {
  const stream = run(config, request);
  if (stream.reply === undefined) return true;
  assert.deepEqual([stream.reply.status, stream.reply.body], [403, 'RBAC: access denied']);
  return false;
}

/** `authenticated.principal_name` regex as Istio writes a namespace. */
const fromNamespace = (ns: string) => ({
  authenticated: { principal_name: { safe_regex: { regex: `.*/ns/${ns}/.*` } } },
});

const SPIFFE = (ns: string, sa: string) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

describe('RBAC filter', () => {
  test('is registered by its Envoy type URL', () => {
    assert.equal(HTTP_FILTERS.get(RBAC_TYPE_URL), rbacFilterFactory);
  });

  test('allow-nothing (ALLOW with a never-matching policy) denies every request, with a counter', () => {
    const config = rbac(
      'ALLOW',
      { 'ns[foo]-policy[allow-nothing]-rule[0]': NEVER },
      { rules_stat_prefix: 'an_' },
    );
    const stats = rbacStats('an_');
    const before = stats.denied;
    assert.equal(allowed(config), false);
    assert.equal(
      allowed(config, { method: 'POST', connection: { peerPrincipal: SPIFFE('foo', 'x') } }),
      false,
    );
    assert.equal(stats.denied, before + 2);
  });

  test('deny-all (DENY with rules: [{}]) denies everything; DENY without match lets requests through', () => {
    assert.equal(
      allowed(
        rbac('DENY', {
          'ns[foo]-policy[deny-all]-rule[0]': { permissions: [ANY_PERMISSION], principals: [ANY_PRINCIPAL] },
        }),
      ),
      false,
    );
    assert.equal(allowed(rbac('DENY', { 'ns[foo]-policy[deny-none]-rule[0]': NEVER })), true);
  });

  test('no rules: the filter enforces nothing', () => {
    assert.equal(allowed({}), true);
  });

  test('allow GET from namespace foo (Istio docs example)', () => {
    const config = rbac('ALLOW', {
      'ns[bar]-policy[get-from-foo]-rule[0]': {
        permissions: [
          {
            and_rules: {
              rules: [
                { or_rules: { rules: [{ header: { name: ':method', string_match: { exact: 'GET' } } }] } },
              ],
            },
          },
        ],
        principals: [{ and_ids: { ids: [{ or_ids: { ids: [fromNamespace('foo')] } }] } }],
      },
    });
    assert.equal(allowed(config, { connection: { peerPrincipal: SPIFFE('foo', 'sleep') } }), true);
    assert.equal(
      allowed(config, { method: 'POST', connection: { peerPrincipal: SPIFFE('foo', 'sleep') } }),
      false,
    );
    assert.equal(allowed(config, { connection: { peerPrincipal: SPIFFE('bar', 'sleep') } }), false);
    assert.equal(allowed(config, {}), false, 'plaintext: no principal, not from foo');
    assert.equal(allowed(config, { noStreamInfo: true }), false, 'no connection info fails closed');
  });

  test('deny notPaths: everything except /healthz is denied; the path is normalised first', () => {
    const config = rbac('DENY', {
      'ns[foo]-policy[deny-not-healthz]-rule[0]': {
        permissions: [
          {
            and_rules: {
              rules: [{ not_rule: { or_rules: { rules: [{ url_path: { path: { exact: '/healthz' } } }] } } }],
            },
          },
        ],
        principals: [ANY_PRINCIPAL],
      },
    });
    assert.equal(allowed(config, { path: '/healthz' }), true);
    assert.equal(allowed(config, { path: '/healthz?verbose=1' }), true, 'url_path ignores the query');
    assert.equal(allowed(config, { path: '/x/../healthz' }), true);
    assert.equal(allowed(config, { path: '/admin' }), false);
  });

  test('a DENY on /admin cannot be dodged with dot segments or escaped unreserved characters', () => {
    const config = rbac('DENY', {
      'ns[foo]-policy[no-admin]-rule[0]': {
        permissions: [{ url_path: { path: { prefix: '/admin' } } }],
        principals: [ANY_PRINCIPAL],
      },
    });
    for (const path of ['/admin', '/public/../admin', '/%61dmin/x', '/./admin', '/%2e%2e/admin'])
      assert.equal(allowed(config, { path }), false, path);
    assert.equal(allowed(config, { path: '/public/admin' }), true);
    assert.equal(normalizePath('/a/b/../../c/./d/'), '/c/d/');
    assert.equal(normalizePath('/a%2fb%7E'), '/a%2Fb~');
  });

  test('principals: exact, prefix and suffix wildcards as Istio generates them', () => {
    const principal = (m: Obj) => ({ authenticated: { principal_name: m } });
    const config = rbac('ALLOW', {
      'ns[foo]-policy[p]-rule[0]': {
        permissions: [ANY_PERMISSION],
        principals: [
          {
            or_ids: {
              ids: [
                principal({ exact: SPIFFE('a', 'exact') }),
                principal({ prefix: 'spiffe://cluster.local/ns/prefixed/' }),
                principal({ safe_regex: { regex: 'spiffe://.*-suffix' } }),
              ],
            },
          },
        ],
      },
    });
    assert.equal(allowed(config, { connection: { peerPrincipal: SPIFFE('a', 'exact') } }), true);
    assert.equal(allowed(config, { connection: { peerPrincipal: SPIFFE('a', 'exact2') } }), false);
    assert.equal(allowed(config, { connection: { peerPrincipal: SPIFFE('prefixed', 'any') } }), true);
    assert.equal(allowed(config, { connection: { peerPrincipal: SPIFFE('z', 'my-suffix') } }), true);
    assert.equal(allowed(config, { connection: { peerPrincipal: SPIFFE('z', 'my-suffix-no') } }), false);
  });

  test('when request.auth.claims[groups]: a claim that is a list or a string (jwt_authn metadata)', () => {
    const groups = { string_match: { exact: 'admins' } };
    const config = rbac('ALLOW', {
      'ns[foo]-policy[claims]-rule[0]': {
        permissions: [ANY_PERMISSION],
        principals: [
          {
            metadata: {
              filter: 'envoy.filters.http.jwt_authn',
              path: [{ key: 'payload' }, { key: 'groups' }],
              value: { or_match: { value_matchers: [{ list_match: { one_of: groups } }, groups] } },
            },
          },
        ],
      },
    });
    const withPayload = (payload: Obj) => new Map([['envoy.filters.http.jwt_authn', { payload }]]);
    assert.equal(allowed(config, { metadata: withPayload({ groups: ['dev', 'admins'] }) }), true);
    assert.equal(allowed(config, { metadata: withPayload({ groups: 'admins' }) }), true);
    assert.equal(allowed(config, { metadata: withPayload({ groups: ['dev'] }) }), false);
    assert.equal(allowed(config, { metadata: withPayload({}) }), false);
    assert.equal(allowed(config), false, 'no token: no metadata');
  });

  test('AUDIT (action LOG) never blocks; it sets access_log_hint and counts', () => {
    const config = rbac(
      'LOG',
      {
        'ns[foo]-policy[audit-get]-rule[0]': {
          permissions: [{ header: { name: ':method', string_match: { exact: 'GET' } } }],
          principals: [ANY_PRINCIPAL],
        },
      },
      { rules_stat_prefix: 'audit_' },
    );
    const stats = rbacStats('audit_');
    const [logged, notLogged] = [stats.logged, stats.notLogged];
    const get = run(config);
    assert.equal(get.reply, undefined);
    assert.deepEqual(get.streamInfo?.dynamicMetadata.get('envoy.common'), { access_log_hint: true });
    const post = run(config, { method: 'POST' });
    assert.equal(post.reply, undefined);
    assert.deepEqual(post.streamInfo?.dynamicMetadata.get('envoy.common'), { access_log_hint: false });
    assert.deepEqual([stats.logged, stats.notLogged], [logged + 1, notLogged + 1]);
  });

  test('shadow rules (dry-run) are evaluated and counted but never enforced', () => {
    const config = {
      shadow_rules: {
        action: 'DENY',
        policies: {
          'ns[foo]-policy[dry]-rule[0]': { permissions: [ANY_PERMISSION], principals: [ANY_PRINCIPAL] },
        },
      },
      shadow_rules_stat_prefix: 'istio_dry_run_deny_',
    };
    const stats = rbacStats('istio_dry_run_deny_');
    const before = stats.shadowDenied;
    const stream = run(config);
    assert.equal(stream.reply, undefined);
    assert.equal(stats.shadowDenied, before + 1);
    assert.deepEqual(stream.streamInfo?.dynamicMetadata.get('envoy.filters.http.rbac'), {
      istio_dry_run_deny_shadow_effective_policy_id: 'ns[foo]-policy[dry]-rule[0]',
      istio_dry_run_deny_shadow_engine_result: 'denied',
    });
  });

  test('source IPs: direct_remote_ip (IPv4-mapped too), remote_ip from X-Forwarded-For, destination port and SNI', () => {
    const cidr = (address_prefix: string, len: number) => ({ address_prefix, prefix_len: { value: len } });
    const direct = rbac('ALLOW', {
      p: { permissions: [ANY_PERMISSION], principals: [{ direct_remote_ip: cidr('10.1.0.0', 16) }] },
    });
    assert.equal(allowed(direct, { connection: { sourceIp: '10.1.2.3' } }), true);
    assert.equal(allowed(direct, { connection: { sourceIp: '::ffff:10.1.2.3' } }), true);
    assert.equal(allowed(direct, { connection: { sourceIp: '10.2.0.1' } }), false);
    const remote = rbac('ALLOW', {
      p: { permissions: [ANY_PERMISSION], principals: [{ remote_ip: cidr('192.168.0.0', 16) }] },
    });
    assert.equal(allowed(remote, { headers: { 'x-forwarded-for': '1.1.1.1, 192.168.4.4' } }), true);
    assert.equal(allowed(remote, { headers: { 'x-forwarded-for': '192.168.4.4, 1.1.1.1' } }), false);
    assert.equal(allowed(remote, { connection: { sourceIp: '192.168.9.9' } }), true, 'no XFF: the peer');
    const portAndSni = rbac('ALLOW', {
      p: {
        permissions: [
          {
            and_rules: {
              rules: [{ destination_port: 15006 }, { requested_server_name: { suffix: '.example.com' } }],
            },
          },
        ],
        principals: [ANY_PRINCIPAL],
      },
    });
    assert.equal(allowed(portAndSni, { connection: { sni: 'api.example.com' } }), true);
    assert.equal(allowed(portAndSni, { connection: { sni: 'api.example.org' } }), false);
    assert.equal(
      allowed(portAndSni, { connection: { sni: 'api.example.com', destinationPort: 8080 } }),
      false,
    );
  });

  test('the effective policy is the first matching one by name, as in Envoy', () => {
    const matchAll = { permissions: [ANY_PERMISSION], principals: [ANY_PRINCIPAL] };
    const stream = run(rbac('DENY', { b: matchAll, a: matchAll }));
    assert.equal(
      stream.streamInfo?.dynamicMetadata.get('envoy.filters.http.rbac')?.enforced_effective_policy_id,
      'a',
    );
  });

  test('fields weft cannot enforce are refused (NACK), never ignored', () => {
    const refuse = (config: Obj, pattern: RegExp) =>
      assert.throws(
        () => rbacFilterFactory.parse('rbac', viaWire(RBAC_TYPE_URL, config), 'rbac'),
        (error: unknown) => error instanceof UnsupportedFieldError && pattern.test(error.message),
      );
    refuse(
      rbac('ALLOW', {
        p: {
          permissions: [ANY_PERMISSION],
          principals: [ANY_PRINCIPAL],
          condition: { const_expr: { bool_value: true } },
        },
      }),
      /condition/,
    );
    refuse(
      rbac('ALLOW', { p: { permissions: [{ uri_template: { name: 'x' } }], principals: [ANY_PRINCIPAL] } }),
      /uri_template/,
    );
    refuse(
      rbac('ALLOW', { p: { permissions: [ANY_PERMISSION], principals: [{ filter_state: { key: 'k' } }] } }),
      /filter_state/,
    );
    refuse({ matcher: {}, rules: { policies: {} } }, /matcher/);
  });
});
