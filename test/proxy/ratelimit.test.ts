// envoy.filters.http.local_ratelimit: token bucket, config parsing, 429 + x-ratelimit headers, per-route config.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileIn } from '../../src/proxy/common/compile-scope.ts';
import type { FilterStream } from '../../src/proxy/http/filters/filter.ts';
import { compileLocalRateLimit } from '../../src/proxy/http/filters/local-ratelimit/ratelimit-config.ts';
import {
  LOCAL_RATELIMIT_STATS,
  localRateLimitFilterFactory,
} from '../../src/proxy/http/filters/local-ratelimit/ratelimit-filter.ts';
import { TokenBucket } from '../../src/proxy/http/filters/local-ratelimit/token-bucket.ts';

test('token bucket: starts full, refills whole intervals up to max_tokens', () => {
  let now = 0;
  const b = new TokenBucket(3, 2, 1000, () => now);
  assert.deepEqual([b.take(), b.take(), b.take(), b.take()], ['allowed', 'allowed', 'allowed', 'limited']);
  now = 999;
  assert.equal(b.take(), 'limited');
  assert.equal(b.resetSeconds(), 1);
  now = 1000;
  assert.equal(b.remaining(), 2);
  now = 10_000;
  assert.equal(b.remaining(), 3, 'never above max_tokens');
});

const full = { defaultValue: { numerator: 100, denominator: 'HUNDRED' } };

function config(extra: Record<string, unknown> = {}) {
  return {
    statPrefix: 'test_rl',
    tokenBucket: { maxTokens: 2, tokensPerFill: { value: 2 }, fillInterval: { seconds: 60 } },
    filterEnabled: full,
    filterEnforced: full,
    enableXRatelimitHeaders: 'DRAFT_VERSION_03',
    ...extra,
  };
}

/** A stream stand-in that records the local reply. */
function stream(routeConfig?: unknown) {
  const replies: { status: number; flag: string | undefined; headers: string[] }[] = [];
  const s = {
    head: {},
    sendLocalReply(status: number, _body: string, flag: string | undefined, headers: string[] = []) {
      replies.push({ status, flag, headers });
    },
    continueDecoding() {},
    addResponseHeader() {},
    routeConfig: () => routeConfig,
  } as unknown as FilterStream;
  return { s, replies };
}

test('over the bucket: 429 RL with x-ratelimit headers; counters; allowed answers carry the headers too', () => {
  const cfg = localRateLimitFilterFactory.parse('rl', config(), 'test')!;
  const first = stream();
  const f1 = cfg.createFilter();
  assert.equal(f1.decodeHeaders(first.s), 'Continue');
  const headers: string[] = [];
  f1.encodeHeaders?.(first.s, 200, headers);
  assert.deepEqual(headers.slice(0, 4), ['x-ratelimit-limit', '2', 'x-ratelimit-remaining', '1']);
  assert.equal(cfg.createFilter().decodeHeaders(stream().s), 'Continue');
  const third = stream();
  assert.equal(cfg.createFilter().decodeHeaders(third.s), 'StopIteration');
  assert.equal(third.replies[0].status, 429);
  assert.equal(third.replies[0].flag, 'RL');
  assert.deepEqual(third.replies[0].headers.slice(0, 4), [
    'x-ratelimit-limit',
    '2',
    'x-ratelimit-remaining',
    '0',
  ]);
  assert.deepEqual(LOCAL_RATELIMIT_STATS.get('test_rl'), { enabled: 3, enforced: 1, rateLimited: 1, ok: 2 });
});

test('Envoy defaults: without filter_enabled nothing is limited; without filter_enforced it is only counted', () => {
  const off = localRateLimitFilterFactory.parse(
    'rl',
    config({ statPrefix: 'off', filterEnabled: undefined }),
    't',
  )!;
  for (let i = 0; i < 5; i++) assert.equal(off.createFilter().decodeHeaders(stream().s), 'Continue');
  const shadow = localRateLimitFilterFactory.parse(
    'rl',
    config({ statPrefix: 'shadow', filterEnforced: undefined }),
    't',
  )!;
  for (let i = 0; i < 5; i++) assert.equal(shadow.createFilter().decodeHeaders(stream().s), 'Continue');
  assert.equal(LOCAL_RATELIMIT_STATS.get('shadow')?.rateLimited, 3);
  assert.equal(LOCAL_RATELIMIT_STATS.get('shadow')?.enforced, 0);
});

test('a route config replaces the listener config (its own bucket)', () => {
  const listener = localRateLimitFilterFactory.parse(
    'rl',
    config({ statPrefix: 'listener', tokenBucket: undefined }),
    't',
  )!;
  const route = compileLocalRateLimit(config({ statPrefix: 'route' }) as never, 'route');
  const limited = [0, 1, 2].map(() => {
    const st = stream(route);
    return listener.createFilter().decodeHeaders(st.s);
  });
  assert.deepEqual(limited, ['Continue', 'Continue', 'StopIteration']);
  assert.equal(listener.createFilter().decodeHeaders(stream().s), 'Continue', 'no bucket at the listener');
});

test('bad configs are refused with the field named', () => {
  assert.throws(
    () =>
      compileLocalRateLimit(
        { statPrefix: 'x', tokenBucket: { maxTokens: 0, fillInterval: { seconds: 1 } } },
        'L',
      ),
    /max_tokens/,
  );
  assert.throws(
    () => compileLocalRateLimit({ statPrefix: 'x', descriptors: [{ entries: [] }] }, 'L'),
    /descriptors/,
  );
});

test('each proxy core has its own buckets: two workloads of one node agent never share one', () => {
  const scopeA = {};
  const scopeB = {};
  const a = compileIn(scopeA, () => compileLocalRateLimit(config({ statPrefix: 'shared' }) as never, 'A'));
  const b = compileIn(scopeB, () => compileLocalRateLimit(config({ statPrefix: 'shared' }) as never, 'B'));
  const a2 = compileIn(scopeA, () => compileLocalRateLimit(config({ statPrefix: 'shared' }) as never, 'A'));
  assert.ok(a.bucket && b.bucket);
  assert.notEqual(a.bucket, b.bucket, 'the same stat_prefix in two cores is two buckets');
  assert.equal(a.bucket, a2.bucket, 'a config compiled again in the same core keeps its bucket');
  assert.deepEqual([a.bucket.take(), a.bucket.take(), a.bucket.take()], ['allowed', 'allowed', 'limited']);
  assert.equal(b.bucket.take(), 'allowed', "workload A's traffic did not use workload B's tokens");
});
