// The jwt_authn HTTP filter driven by Envoy JwtAuthentication configs shaped as Istio generates them, with keys made here.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { UnsupportedFieldError } from '../../src/errors.ts';
import { jwksFetchStats } from '../../src/proxy/http/filters/jwt-authn/jwks-source.ts';
import {
  JWT_AUTHN_METADATA,
  JWT_AUTHN_TYPE_URL,
  jwtAuthnFilterFactory,
} from '../../src/proxy/http/filters/jwt-authn/jwt-authn-filter.ts';
import { RBAC_TYPE_URL, rbacFilterFactory } from '../../src/proxy/http/filters/rbac/rbac-filter.ts';
import { HTTP_FILTERS } from '../../src/proxy/http/filters/registry.ts';
import { epoch, jwks, makeKey, sign } from './jwt-helpers.ts';
import { RecordingStream, type RequestSpec, runChain, viaWire } from './rbac-helpers.ts';

type Obj = Record<string, unknown>;

const ISSUER = 'https://issuer.example';
const RS = makeKey('RS256');
const ES = makeKey('ES256');
const OTHER = makeKey('RS256', 'other-key');

/** One provider as Istio writes it for a jwtRule; `extra` overrides. */
function provider(extra: Obj = {}): Obj {
  return {
    issuer: ISSUER,
    local_jwks: { inline_string: jwks(RS, ES) },
    payload_in_metadata: 'payload',
    normalize_payload_in_metadata: { space_delimited_claims: ['permission', 'scope'] },
    ...extra,
  };
}

/** Istio's JwtAuthentication for one provider: requires_any [provider, allow_missing]. */
function istioConfig(p: Obj = provider()): Obj {
  return {
    providers: { 'origins-0': p },
    rules: [
      {
        match: { prefix: '/' },
        requires: { requires_any: { requirements: [{ provider_name: 'origins-0' }, { allow_missing: {} }] } },
      },
    ],
    bypass_cors_preflight: true,
  };
}

function run(config: Obj, request: RequestSpec = {}): RecordingStream {
  const parsed = jwtAuthnFilterFactory.parse(
    'envoy.filters.http.jwt_authn',
    viaWire(JWT_AUTHN_TYPE_URL, config),
    'jwt',
  );
  const stream = new RecordingStream(request);
  const status = parsed!.createFilter().decodeHeaders(stream);
  if (status === 'Continue') assert.equal(stream.reply, undefined);
  return stream;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function payloadOf(stream: RecordingStream): Obj | undefined {
  return stream.streamInfo?.dynamicMetadata.get(JWT_AUTHN_METADATA)?.payload as Obj | undefined;
}

const claims = (extra: Obj = {}) => ({ iss: ISSUER, sub: 'alice', aud: 'api', exp: epoch(600), ...extra });

describe('jwt_authn filter (inline keys)', () => {
  test('is registered by its Envoy type URL', () => {
    assert.equal(HTTP_FILTERS.get(JWT_AUTHN_TYPE_URL), jwtAuthnFilterFactory);
  });

  test('a valid token passes; its payload is in the metadata for RBAC; the token is removed', () => {
    const stream = run(istioConfig(), {
      headers: bearer(sign(RS, claims({ groups: ['admins'], scope: 'read write' }))),
    });
    assert.equal(stream.reply, undefined);
    const payload = payloadOf(stream);
    assert.equal(payload?.sub, 'alice');
    assert.deepEqual(payload?.groups, ['admins']);
    assert.deepEqual(payload?.scope, ['read', 'write'], 'space-delimited claims become lists');
    assert.equal(stream.head.get('authorization'), undefined, 'forward: false removes the token');
  });

  test('every supported algorithm verifies: RS256/384/512, PS256, ES256, ES384, EdDSA; HS256 only with an oct key', () => {
    for (const alg of ['RS384', 'RS512', 'PS256', 'ES384', 'EdDSA', 'HS256'] as const) {
      const key = makeKey(alg);
      const config = istioConfig(provider({ local_jwks: { inline_string: jwks(key) } }));
      assert.equal(run(config, { headers: bearer(sign(key, claims())) }).reply, undefined, alg);
    }
    assert.equal(run(istioConfig(), { headers: bearer(sign(ES, claims())) }).reply, undefined, 'ES256');
  });

  test('no token: passes (Istio), with nothing in the metadata', () => {
    const stream = run(istioConfig());
    assert.equal(stream.reply, undefined);
    assert.equal(payloadOf(stream), undefined);
  });

  const rejected = (request: RequestSpec, status: number, body: string, config = istioConfig()) => {
    const stream = run(config, request);
    assert.deepEqual([stream.reply?.status, stream.reply?.body], [status, body]);
    return stream;
  };

  test('expired → 401 with a Bearer challenge; not yet valid → 401; clock skew of 60 s is allowed', () => {
    const stream = rejected(
      { headers: bearer(sign(RS, claims({ exp: epoch(-120) }))) },
      401,
      'Jwt is expired',
    );
    assert.deepEqual(stream.reply?.headers, [
      'www-authenticate',
      'Bearer realm="http://httpbin.foo:8000/", error="invalid_token"',
    ]);
    rejected({ headers: bearer(sign(RS, claims({ nbf: epoch(600) }))) }, 401, 'Jwt not yet valid');
    assert.equal(
      run(istioConfig(), { headers: bearer(sign(RS, claims({ exp: epoch(-30) }))) }).reply,
      undefined,
    );
  });

  test('wrong issuer → 401; wrong audience → 403 (Envoy); right audience passes', () => {
    rejected(
      { headers: bearer(sign(RS, claims({ iss: 'https://evil.example' }))) },
      401,
      'Jwt issuer is not configured',
    );
    const audiences = istioConfig(provider({ audiences: ['https://api.example/'] }));
    rejected(
      { headers: bearer(sign(RS, claims({ aud: 'web' }))) },
      403,
      'Audiences in Jwt are not allowed',
      audiences,
    );
    const ok = run(audiences, { headers: bearer(sign(RS, claims({ aud: ['web', 'api.example'] }))) });
    assert.equal(ok.reply, undefined, 'audiences compare without scheme and trailing slash, as Envoy does');
  });

  test('forged tokens are refused: tampered payload, unknown key, alg none, HS256 against public keys', () => {
    const token = sign(RS, claims());
    const [h, , s] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify(claims({ sub: 'admin' }))).toString('base64url')}.${s}`;
    rejected({ headers: bearer(forged) }, 401, 'Jwt verification fails');
    rejected(
      { headers: bearer(sign(OTHER, claims())) },
      401,
      "Jwks doesn't have key to match kid or alg from Jwt",
    );
    // Another key that claims the trusted key's kid.
    rejected({ headers: bearer(sign({ ...OTHER, kid: RS.kid }, claims())) }, 401, 'Jwt verification fails');
    rejected(
      { headers: bearer(sign(RS, claims(), { alg: 'none' })) },
      401,
      'Jwt header [alg] is not supported',
    );
    // An attacker signing HS256 with the RSA public key as the secret: no oct key, so no match.
    const hmac = { ...makeKey('HS256'), kid: RS.kid };
    rejected(
      { headers: bearer(sign(hmac, claims())) },
      401,
      "Jwks doesn't have key to match kid or alg from Jwt",
    );
    rejected(
      { headers: bearer('not-a-jwt') },
      401,
      'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
    );
  });

  test('a provider required on its own: a missing token is 401 without error="invalid_token"', () => {
    const config = {
      providers: { p: provider() },
      rules: [{ match: { prefix: '/api' }, requires: { provider_name: 'p' } }],
    };
    const stream = rejected({ path: '/api/items' }, 401, 'Jwt is missing', config);
    assert.deepEqual(stream.reply?.headers, [
      'www-authenticate',
      'Bearer realm="http://httpbin.foo:8000/api/items"',
    ]);
    assert.equal(run(config, { path: '/public' }).reply, undefined, 'no rule matches: not verified');
  });

  test('fromHeaders with a prefix, fromParams and fromCookies; forward keeps the token', () => {
    const config = istioConfig(
      provider({
        from_headers: [{ name: 'X-Jwt', value_prefix: 'Token ' }],
        from_params: ['token'],
        from_cookies: ['session'],
        forward: true,
      }),
    );
    const token = sign(RS, claims());
    const viaHeader = run(config, { headers: { 'x-jwt': `Token ${token}` } });
    assert.equal(payloadOf(viaHeader)?.sub, 'alice');
    assert.equal(viaHeader.head.get('x-jwt'), `Token ${token}`, 'forward: true keeps it');
    assert.equal(payloadOf(run(config, { path: `/x?token=${token}` }))?.sub, 'alice');
    assert.equal(payloadOf(run(config, { headers: { cookie: `a=b; session=${token}` } }))?.sub, 'alice');
    // The default Authorization location is not used once locations are named.
    assert.equal(payloadOf(run(config, { headers: bearer(token) })), undefined);
  });

  test('outputPayloadToHeader and claim headers are set from the token, and cannot be spoofed', () => {
    const config = istioConfig(
      provider({
        forward_payload_header: 'x-jwt-payload',
        claim_to_headers: [
          { header_name: 'x-sub', claim_name: 'sub' },
          { header_name: 'x-tenant', claim_name: 'org.tenant' },
        ],
      }),
    );
    const token = sign(RS, claims({ org: { tenant: 'acme' } }));
    const stream = run(config, {
      headers: { ...bearer(token), 'x-sub': 'mallory', 'x-jwt-payload': 'forged' },
    });
    assert.equal(stream.head.get('x-sub'), 'alice');
    assert.equal(stream.head.get('x-tenant'), 'acme');
    assert.equal(stream.head.get('x-jwt-payload'), token.split('.')[1]);
    const anonymous = run(config, { headers: { 'x-sub': 'mallory' } });
    assert.equal(
      anonymous.head.get('x-sub'),
      undefined,
      'a request without a token cannot claim to be anyone',
    );
  });

  test("several providers (Istio's requires_any of providers and an all-of-each-or-missing)", () => {
    const other = makeKey('ES256', 'second');
    const config = {
      providers: {
        'origins-0': provider(),
        'origins-1': provider({ issuer: 'second', local_jwks: { inline_string: jwks(other) } }),
      },
      rules: [
        {
          match: { prefix: '/' },
          requires: {
            requires_any: {
              requirements: [
                { provider_name: 'origins-0' },
                { provider_name: 'origins-1' },
                {
                  requires_all: {
                    requirements: [
                      {
                        requires_any: {
                          requirements: [{ provider_name: 'origins-0' }, { allow_missing: {} }],
                        },
                      },
                      {
                        requires_any: {
                          requirements: [{ provider_name: 'origins-1' }, { allow_missing: {} }],
                        },
                      },
                    ],
                  },
                },
              ],
            },
          },
        },
      ],
    };
    assert.equal(payloadOf(run(config, { headers: bearer(sign(RS, claims())) }))?.iss, ISSUER);
    assert.equal(
      payloadOf(run(config, { headers: bearer(sign(other, claims({ iss: 'second' }))) }))?.iss,
      'second',
    );
    assert.equal(run(config).reply, undefined);
    rejected(
      { headers: bearer(sign({ ...OTHER, kid: RS.kid }, claims())) },
      401,
      'Jwt verification fails',
      config,
    );
    rejected(
      { headers: bearer(sign(RS, claims({ iss: 'third' }))) },
      401,
      'Jwt issuer is not configured',
      config,
    );
  });

  test('a CORS preflight is not verified (bypass_cors_preflight)', () => {
    const config = {
      ...istioConfig(),
      rules: [{ match: { prefix: '/' }, requires: { provider_name: 'origins-0' } }],
    };
    const preflight = run(config, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.reply, undefined);
  });

  test('configs weft cannot honour are refused (NACK)', () => {
    const refuse = (config: Obj, pattern: RegExp) =>
      assert.throws(
        () => jwtAuthnFilterFactory.parse('jwt', viaWire(JWT_AUTHN_TYPE_URL, config), 'jwt'),
        (error: unknown) => error instanceof UnsupportedFieldError && pattern.test(error.message),
      );
    refuse(
      { ...istioConfig(), rules: [{ match: { prefix: '/' }, requires: { provider_name: 'nope' } }] },
      /nope/,
    );
    refuse(
      istioConfig(provider({ local_jwks: { inline_string: '{"keys": []}' } })),
      /no usable signature key/,
    );
    refuse(istioConfig(provider({ local_jwks: { filename: '/etc/jwks.json' } })), /filename/);
    refuse({ ...istioConfig(), filter_state_rules: { name: 'x' } }, /filter_state_rules/);
  });
});

describe('jwt_authn and RBAC together (Istio: a token is needed only where a policy says so)', () => {
  const requireAnyPrincipal = {
    rules: {
      action: 'ALLOW',
      policies: {
        'ns[foo]-policy[require-jwt]-rule[0]': {
          permissions: [{ and_rules: { rules: [{ any: true }] } }],
          principals: [
            {
              and_ids: {
                ids: [
                  {
                    and_ids: {
                      ids: ['iss', 'sub'].map((claim) => ({
                        metadata: {
                          filter: 'envoy.filters.http.jwt_authn',
                          path: [{ key: 'payload' }, { key: claim }],
                          value: { string_match: { safe_regex: { regex: '.+' } } },
                        },
                      })),
                    },
                  },
                ],
              },
            },
          ],
        },
      },
    },
  };
  const chain = [
    { factory: jwtAuthnFilterFactory, typedConfig: viaWire(JWT_AUTHN_TYPE_URL, istioConfig()) },
    { factory: rbacFilterFactory, typedConfig: viaWire(RBAC_TYPE_URL, requireAnyPrincipal) },
  ];

  test('no token → 403 from RBAC; a valid token → allowed; an invalid one → 401 from jwt_authn', () => {
    const none = new RecordingStream();
    runChain(chain, none);
    assert.deepEqual([none.reply?.status, none.reply?.body], [403, 'RBAC: access denied']);
    const valid = new RecordingStream({ headers: bearer(sign(RS, claims())) });
    assert.equal(runChain(chain, valid), 'Continue');
    const expired = new RecordingStream({ headers: bearer(sign(RS, claims({ exp: epoch(-3600) }))) });
    runChain(chain, expired);
    assert.equal(expired.reply?.status, 401);
  });
});

describe('jwt_authn with remote JWKS', () => {
  let server: http.Server;
  let baseUrl = '';
  let served = 0;
  let keySet = jwks(RS);
  const hanging: http.ServerResponse[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/slow') {
        hanging.push(res);
        return;
      }
      if (req.url === '/broken') {
        res.writeHead(500).end('no');
        return;
      }
      served++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(keySet);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function remote(path: string, cacheDuration: Obj, timeout: Obj = { seconds: 5 }): Obj {
    return istioConfig(
      provider({
        local_jwks: undefined,
        remote_jwks: {
          http_uri: { uri: `${baseUrl}${path}`, cluster: 'outbound|80||jwks.example', timeout },
          cache_duration: cacheDuration,
        },
      }),
    );
  }

  /** Resolves when the filter stopped the stream and later resumed or answered it. */
  async function settle(stream: RecordingStream): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (stream.continued === 0 && stream.reply === undefined) {
      assert.ok(Date.now() < deadline, 'the filter neither resumed nor answered the request');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async function request(config: Obj, token: string): Promise<{ stream: RecordingStream; waited: boolean }> {
    const parsed = jwtAuthnFilterFactory.parse('jwt', viaWire(JWT_AUTHN_TYPE_URL, config), 'jwt');
    const stream = new RecordingStream({ headers: bearer(token) });
    const status = parsed!.createFilter().decodeHeaders(stream);
    if (status === 'StopIteration' && stream.reply === undefined) await settle(stream);
    return { stream, waited: status === 'StopIteration' };
  }

  test('keys are fetched once, then served from the cache; the request waits only for the first fetch', async () => {
    const config = remote('/jwks-cached', { seconds: 300 });
    const first = await request(config, sign(RS, claims()));
    assert.equal(first.waited, true);
    assert.equal(first.stream.continued, 1);
    assert.equal(payloadOf(first.stream)?.sub, 'alice');
    const fetched = served;
    const second = await request(config, sign(RS, claims({ sub: 'bob' })));
    assert.equal(second.waited, false, 'cached keys: verified without waiting');
    assert.equal(payloadOf(second.stream)?.sub, 'bob');
    assert.equal(served, fetched, 'no second fetch');
  });

  test('stale keys are refreshed; a token with a new kid waits for the refresh (key rotation)', async () => {
    const config = remote('/jwks-rotating', { nanos: 1_000_000 });
    keySet = jwks(RS);
    assert.equal((await request(config, sign(RS, claims()))).stream.continued, 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    keySet = jwks(RS, ES);
    const before = served;
    const rotated = await request(config, sign(ES, claims()));
    assert.equal(rotated.waited, true);
    assert.equal(rotated.stream.continued, 1, rotated.stream.reply?.body);
    assert.ok(served > before, 'the JWKS was fetched again');
  });

  test('a JWKS server that does not answer within http_uri.timeout: 401, the request is not held longer', async () => {
    const started = Date.now();
    const { stream } = await request(
      remote('/slow', { seconds: 300 }, { nanos: 200_000_000 }),
      sign(RS, claims()),
    );
    assert.deepEqual([stream.reply?.status, stream.reply?.body], [401, 'Jwks remote fetch is failed']);
    assert.ok(Date.now() - started >= 150, 'it waited for the timeout');
  });

  test('a failing JWKS server: 401, counted; requests without a token still pass', async () => {
    const failed = jwksFetchStats.failed;
    const { stream } = await request(remote('/broken', { seconds: 300 }), sign(RS, claims()));
    assert.deepEqual([stream.reply?.status, stream.reply?.body], [401, 'Jwks remote fetch is failed']);
    assert.ok(jwksFetchStats.failed > failed);
    assert.equal(run(remote('/broken', { seconds: 300 })).reply, undefined);
  });
});
