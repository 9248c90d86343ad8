// envoy.filters.http.local_ratelimit config (LocalRateLimit): a token bucket, enable/enforce shares, headers.

import { compileScope, ScopedStats } from '../../../common/compile-scope.ts';
import {
  checkFields,
  durationMs,
  list,
  type Msg,
  msg,
  num,
  str,
  unsupported,
  wrappedNum,
} from '../../../common/fields.ts';
import { TokenBucket } from './token-bucket.ts';

export const LOCAL_RATELIMIT_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

/** A compiled LocalRateLimit (listener-wide, or one route's). */
/** Envoy's `<stat_prefix>.http_local_rate_limit.*` counters. */
export interface LocalRateLimitStats {
  enabled: number;
  enforced: number;
  rateLimited: number;
  ok: number;
}

/** Counters by stat_prefix, per proxy core (compile scope), for /stats/prometheus. */
export const LOCAL_RATELIMIT_STATS = new ScopedStats<LocalRateLimitStats>(() => ({
  enabled: 0,
  enforced: 0,
  rateLimited: 0,
  ok: 0,
}));

export interface LocalRateLimitConfig {
  /** stat_prefix: names the counters. */
  statPrefix: string;
  /** Its counters (shared by every config with this prefix in the same core). */
  stats: LocalRateLimitStats;
  /** The bucket; absent: the filter counts nothing and limits nothing (Envoy's behaviour). */
  bucket?: TokenBucket;
  /** filter_enabled: share of requests checked against the bucket, 0..1 (Envoy's default 0). */
  enabled: number;
  /** filter_enforced: share of over-limit requests actually refused, 0..1 (Envoy's default 0). */
  enforced: number;
  /** status.code of refusals (default 429). */
  status: number;
  /** enable_x_ratelimit_headers: DRAFT_VERSION_03 adds x-ratelimit-limit/remaining/reset. */
  rateLimitHeaders: 'off' | 'draft-03';
  /** response_headers_to_add on refusals: flat name/value list. */
  responseHeaders: string[];
}

const DENOMINATOR: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/** A RuntimeFractionalPercent's default_value as a share 0..1; absent is 0 (as Envoy). */
function share(value: unknown, where: string): number {
  const r = msg(value);
  if (!r) return 0;
  checkFields(r, where, ['defaultValue', 'runtimeKey']);
  const p = msg(r.defaultValue);
  if (!p) return 0;
  const d = DENOMINATOR[str(p.denominator) || 'HUNDRED'];
  if (d === undefined) unsupported(where, `denominator ${str(p.denominator)}`);
  return Math.min(1, num(p.numerator) / d);
}

/**
 * Buckets by stat_prefix and shape, shared by every listener, connection and config version of
 * one proxy core: a route table compiled again (new connection, new RDS/LDS version) keeps
 * counting against the same bucket, as Envoy shares a filter config's bucket across its workers.
 * Each core (each workload of a `weft node` agent) has its own buckets.
 */
const BUCKETS = new WeakMap<object, Map<string, TokenBucket>>();

function sharedBucket(
  prefix: string,
  maxTokens: number,
  tokensPerFill: number,
  fillIntervalMs: number,
): TokenBucket {
  const key = `${prefix}|${maxTokens}|${tokensPerFill}|${fillIntervalMs}`;
  const scope = compileScope();
  let buckets = BUCKETS.get(scope);
  if (!buckets) {
    buckets = new Map();
    BUCKETS.set(scope, buckets);
  }
  let bucket = buckets.get(key);
  if (!bucket) {
    bucket = new TokenBucket(maxTokens, tokensPerFill, fillIntervalMs);
    buckets.set(key, bucket);
  }
  return bucket;
}

export function compileLocalRateLimit(c: Msg, where: string): LocalRateLimitConfig {
  checkFields(c, where, [
    'statPrefix',
    'status',
    'tokenBucket',
    'filterEnabled',
    'filterEnforced',
    'responseHeadersToAdd',
    'enableXRatelimitHeaders',
    'stage',
  ]);
  const statPrefix = str(c.statPrefix) || 'http_local_rate_limiter';
  const out: LocalRateLimitConfig = {
    statPrefix,
    stats: LOCAL_RATELIMIT_STATS.get(statPrefix),
    enabled: share(c.filterEnabled, `${where}.filter_enabled`),
    enforced: share(c.filterEnforced, `${where}.filter_enforced`),
    status: num(msg(c.status)?.code, 0) || 429,
    rateLimitHeaders: str(c.enableXRatelimitHeaders) === 'DRAFT_VERSION_03' ? 'draft-03' : 'off',
    responseHeaders: [],
  };
  if (out.status < 400 || out.status >= 600) unsupported(`${where}.status`, `code ${out.status}`);
  const b = msg(c.tokenBucket);
  if (b) {
    const w = `${where}.token_bucket`;
    checkFields(b, w, ['maxTokens', 'tokensPerFill', 'fillInterval']);
    const maxTokens = num(b.maxTokens);
    const tokensPerFill = wrappedNum(b.tokensPerFill, 1);
    const fillIntervalMs = durationMs(b.fillInterval, 0);
    if (maxTokens <= 0) unsupported(w, 'max_tokens 0');
    if (tokensPerFill <= 0) unsupported(w, 'tokens_per_fill 0');
    if (fillIntervalMs < 1) unsupported(w, `fill_interval ${fillIntervalMs} ms (at least 1 ms)`);
    out.bucket = sharedBucket(out.statPrefix, maxTokens, tokensPerFill, fillIntervalMs);
  }
  for (const [i, h] of list(c.responseHeadersToAdd).entries()) {
    const hv = msg(h.header);
    checkFields(h, `${where}.response_headers_to_add[${i}]`, ['header', 'appendAction', 'append']);
    if (hv) out.responseHeaders.push(str(hv.key).toLowerCase(), str(hv.value));
  }
  return out;
}
