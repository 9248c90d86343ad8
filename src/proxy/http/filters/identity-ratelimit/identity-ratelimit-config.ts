// Linkerd's HttpLocalRateLimit config (io.linkerd.proxy.inbound): total, per-identity and per-client override limits.
import { compileScope } from '../../../common/compile-scope.ts';
import { checkFields, list, type Msg, msg, num, str, unsupported } from '../../../common/fields.ts';
import { TokenBucket } from '../local-ratelimit/token-bucket.ts';

export const IDENTITY_RATELIMIT_TYPE_URL = 'type.googleapis.com/io.linkerd.proxy.inbound.HttpLocalRateLimit';

/** Keyed buckets kept before full (idle) ones are dropped: a full bucket is the same as a new one. */
const MAX_IDLE_KEYS = 10_000;

/** A rate in requests per second, as Linkerd's limiter (governor) holds it: a second's worth at once. */
export class Rate {
  readonly rps: number;
  private readonly now: (() => number) | undefined;
  /** `now`: the buckets' clock (tests); default the monotonic clock. */
  constructor(rps: number, now?: () => number) {
    this.rps = rps;
    this.now = now;
  }
  /** A bucket that lets `rps` through at once and refills one every 1/rps s (at most every 50 ms). */
  bucket(): TokenBucket {
    const every = 1000 / this.rps;
    if (every >= 50) return new TokenBucket(this.rps, 1, every, this.now);
    const perFill = Math.max(1, Math.round(this.rps / 20));
    return new TokenBucket(Math.max(this.rps, perFill), perFill, 50, this.now);
  }
}

/** One bucket per key (a client identity, or '' for every unauthenticated client). */
export class KeyedBuckets {
  readonly rate: Rate;
  private readonly buckets = new Map<string, TokenBucket>();
  constructor(rate: Rate) {
    this.rate = rate;
  }
  take(key: string): boolean {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= MAX_IDLE_KEYS) this.dropFull();
      b = this.rate.bucket();
      this.buckets.set(key, b);
    }
    return b.take() === 'allowed';
  }
  private dropFull(): void {
    for (const [key, b] of this.buckets) if (b.remaining() >= b.maxTokens) this.buckets.delete(key);
  }
  get size(): number {
    return this.buckets.size;
  }
}

/** A compiled HttpLocalRateLimit: shared by every stream of the listener (its buckets count them all). */
export interface IdentityRateLimitConfig {
  total?: { rate: Rate; bucket: TokenBucket };
  identity?: KeyedBuckets;
  /** Client identity (SPIFFE ID) → its override's bucket; one override's clients share one. */
  overrides: Map<string, { rate: Rate; bucket: TokenBucket }>;
}

function rate(value: unknown, where: string): Rate | undefined {
  const l = msg(value);
  if (!l) return undefined;
  checkFields(l, where, ['requestsPerSecond']);
  const rps = num(l.requestsPerSecond);
  if (!Number.isInteger(rps) || rps < 1) unsupported(`${where}.requests_per_second`, `${rps}`);
  return new Rate(rps);
}

/**
 * Compiled configs by content, shared by every listener, connection and config version of one
 * proxy core: the same policy pushed again keeps counting against the same buckets. Each core
 * (each workload of a `weft node` agent) has its own.
 */
const SHARED = new WeakMap<object, Map<string, IdentityRateLimitConfig>>();

export function compileIdentityRateLimit(c: Msg, where: string): IdentityRateLimitConfig {
  const scope = compileScope();
  let configs = SHARED.get(scope);
  if (!configs) {
    configs = new Map();
    SHARED.set(scope, configs);
  }
  const key = JSON.stringify(c);
  let config = configs.get(key);
  if (!config) {
    config = compileFresh(c, where);
    configs.set(key, config);
  }
  return config;
}

function compileFresh(c: Msg, where: string): IdentityRateLimitConfig {
  checkFields(c, where, ['total', 'identity', 'overrides', 'metadata']);
  const total = rate(c.total, `${where}.total`);
  const identity = rate(c.identity, `${where}.identity`);
  const out: IdentityRateLimitConfig = {
    ...(total ? { total: { rate: total, bucket: total.bucket() } } : {}),
    ...(identity ? { identity: new KeyedBuckets(identity) } : {}),
    overrides: new Map(),
  };
  for (const [i, o] of list(c.overrides).entries()) {
    const w = `${where}.overrides[${i}]`;
    checkFields(o, w, ['limit', 'clients']);
    const r = rate(o.limit, `${w}.limit`);
    if (!r) unsupported(w, 'an override without a limit');
    const clients = msg(o.clients) ?? {};
    checkFields(clients, `${w}.clients`, ['identities']);
    const shared = { rate: r, bucket: r.bucket() };
    for (const [j, id] of list(clients.identities).entries()) {
      checkFields(id, `${w}.clients.identities[${j}]`, ['name']);
      const name = str(id.name);
      if (!out.overrides.has(name)) out.overrides.set(name, shared);
    }
  }
  return out;
}
