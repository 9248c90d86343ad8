// Linkerd's HttpLocalRateLimit in the proxy: total first, then an override or the per-identity bucket; 429 / RESOURCE_EXHAUSTED.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileIn } from '../../src/proxy/common/compile-scope.ts';
import type { FilterStream } from '../../src/proxy/http/filters/filter.ts';
import {
  compileIdentityRateLimit,
  type IdentityRateLimitConfig,
  KeyedBuckets,
  Rate,
} from '../../src/proxy/http/filters/identity-ratelimit/identity-ratelimit-config.ts';
import {
  checkRateLimit,
  identityRateLimitFilterFactory,
} from '../../src/proxy/http/filters/identity-ratelimit/identity-ratelimit-filter.ts';
import { RequestHead } from '../../src/proxy/http/request-head.ts';

const A = 'spiffe://cluster.local/ns/default/sa/a';
const B = 'spiffe://cluster.local/ns/default/sa/b';
const VIP = 'spiffe://cluster.local/ns/default/sa/vip';
const VIP2 = 'spiffe://cluster.local/ns/ops/sa/vip2';

/** total 6, identity 2, override 3 shared by VIP and VIP2, on a clock that only moves when told. */
function limits(clock: { now: number }): IdentityRateLimitConfig {
  const rate = (rps: number) => new Rate(rps, () => clock.now);
  const override = { rate: rate(3), bucket: rate(3).bucket() };
  return {
    total: { rate: rate(6), bucket: rate(6).bucket() },
    identity: new KeyedBuckets(rate(2)),
    overrides: new Map([
      [VIP, override],
      [VIP2, override],
    ]),
  };
}

test('each identity has its own bucket; unauthenticated clients share one; an override replaces identity', () => {
  const clock = { now: 0 };
  const c = limits(clock);
  const run = (id: string | undefined) => checkRateLimit(c, id) ?? 'ok';
  assert.deepEqual([run(A), run(A), run(A)], ['ok', 'ok', 'per-identity rate limit exceeded: 2rps']);
  assert.equal(run(B), 'ok', 'B is not limited by what A sent');
  assert.deepEqual([run(VIP), run(VIP2)], ['ok', 'ok']);
  // Six requests so far took all six total tokens, the refused one too (Linkerd checks total first).
  assert.equal(run(undefined), 'total rate limit exceeded: 6rps');
  clock.now = 1000;
  assert.deepEqual(
    [run(undefined), run(undefined), run(undefined)],
    ['ok', 'ok', 'per-identity rate limit exceeded: 2rps'],
  );
  // The override's 3 rps are shared by both of its ServiceAccounts.
  assert.deepEqual([run(VIP), run(VIP2)], ['ok', 'ok']);
  clock.now = 2000;
  assert.deepEqual(
    [run(VIP), run(VIP2), run(VIP), run(VIP2)],
    ['ok', 'ok', 'ok', 'override rate limit exceeded: 3rps'],
  );
});

test('a rate is a second of requests at once, refilled smoothly', () => {
  const clock = { now: 0 };
  const slow = new Rate(4, () => clock.now).bucket();
  assert.deepEqual([slow.maxTokens, slow.tokensPerFill, slow.fillIntervalMs], [4, 1, 250]);
  const fast = new Rate(1000, () => clock.now).bucket();
  assert.deepEqual([fast.maxTokens, fast.tokensPerFill, fast.fillIntervalMs], [1000, 50, 50]);
});

test('keyed buckets drop only full ones when there are many keys', () => {
  const clock = { now: 0 };
  const keyed = new KeyedBuckets(new Rate(1, () => clock.now));
  for (let i = 0; i < 10_000; i++) keyed.take(`id-${i}`);
  clock.now = 1000;
  keyed.take('one-more');
  assert.equal(keyed.size, 1, 'every older bucket was full again, so forgetting it changes nothing');
});

function stream(contentType?: string, principal?: string) {
  const replies: { status: number; body: string; flag?: string; headers?: string[] }[] = [];
  const head = new RequestHead();
  head.method = 'GET';
  head.path = '/';
  if (contentType) head.headers.push('content-type', contentType);
  const s = {
    head,
    streamInfo: {
      connection: { peerPrincipal: principal, sourceIp: '127.0.0.1', destinationPort: 1 },
      dynamicMetadata: new Map(),
    },
    sendLocalReply: (status: number, body: string, flag?: string, headers?: string[]) =>
      replies.push({ status, body, flag, headers }),
    continueDecoding() {},
    addResponseHeader() {},
  } as unknown as FilterStream;
  return { s, replies };
}

test('the filter answers 429 with flag RL, RESOURCE_EXHAUSTED for gRPC, and reads the verified identity', () => {
  const config = identityRateLimitFilterFactory.parse(
    'l',
    {
      '@type': identityRateLimitFilterFactory.typeUrl,
      identity: { requestsPerSecond: 1 },
      overrides: [{ limit: { requestsPerSecond: 1 }, clients: { identities: [{ name: `${A}-test` }] } }],
    },
    'test',
  )!;
  const first = stream(undefined, `${B}-test`);
  assert.equal(config.createFilter().decodeHeaders(first.s), 'Continue');
  const second = stream('application/grpc', `${B}-test`);
  assert.equal(config.createFilter().decodeHeaders(second.s), 'StopIteration');
  assert.deepEqual(second.replies, [
    {
      status: 429,
      body: 'per-identity rate limit exceeded: 1rps',
      flag: 'RL',
      headers: ['grpc-status', '8'],
    },
  ]);
  const other = stream(undefined, `${A}-test`);
  assert.equal(config.createFilter().decodeHeaders(other.s), 'Continue', 'another identity has its own');
  assert.throws(
    () =>
      identityRateLimitFilterFactory.parse(
        'l',
        { '@type': 'x', identity: { requestsPerSecond: 1, burst: 3 } },
        'here',
      ),
    /here.identity: field 'burst' is not supported/,
  );
});

test('each proxy core has its own Linkerd limiter; the same config compiled again in one core keeps its buckets', () => {
  const config = {
    '@type': identityRateLimitFilterFactory.typeUrl,
    identity: { requestsPerSecond: 1 },
  };
  const compile = () => compileIdentityRateLimit(config, 'test');
  const [scopeA, scopeB] = [{}, {}];
  const a = compileIn(scopeA, compile);
  assert.equal(compileIn(scopeA, compile), a);
  const b = compileIn(scopeB, compile);
  assert.notEqual(a, b, 'two workloads of one node agent never share a bucket');
  assert.deepEqual(
    [checkRateLimit(a, A), checkRateLimit(a, A)],
    [undefined, 'per-identity rate limit exceeded: 1rps'],
  );
  assert.equal(checkRateLimit(b, A), undefined);
});
