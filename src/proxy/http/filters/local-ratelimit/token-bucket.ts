// A token bucket refilled in whole intervals (Envoy's local rate limit): max_tokens, tokens_per_fill, fill_interval.

/** What taking a token from a bucket came to. */
export type TokenOutcome = 'allowed' | 'limited';

export class TokenBucket {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
  private tokens: number;
  /** When the last fill happened (ms, monotonic clock). */
  private lastFill: number;
  private readonly now: () => number;

  /** Starts full, as Envoy's does. */
  constructor(
    maxTokens: number,
    tokensPerFill: number,
    fillIntervalMs: number,
    now = () => performance.now(),
  ) {
    this.maxTokens = maxTokens;
    this.tokensPerFill = tokensPerFill;
    this.fillIntervalMs = fillIntervalMs;
    this.tokens = maxTokens;
    this.now = now;
    this.lastFill = now();
  }

  /** Adds the fills due since the last one (whole intervals only). */
  private refill(at: number): void {
    const fills = Math.floor((at - this.lastFill) / this.fillIntervalMs);
    if (fills <= 0) return;
    this.tokens = Math.min(this.maxTokens, this.tokens + fills * this.tokensPerFill);
    this.lastFill += fills * this.fillIntervalMs;
  }

  /** Takes one token when there is one. */
  take(): TokenOutcome {
    this.refill(this.now());
    if (this.tokens < 1) return 'limited';
    this.tokens--;
    return 'allowed';
  }

  /** Tokens left now. */
  remaining(): number {
    this.refill(this.now());
    return this.tokens;
  }

  /** Whole seconds until the next fill (x-ratelimit-reset). */
  resetSeconds(): number {
    const at = this.now();
    this.refill(at);
    return Math.max(0, Math.ceil((this.lastFill + this.fillIntervalMs - at) / 1000));
  }
}
