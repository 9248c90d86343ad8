// envoy.filters.http.local_ratelimit: refuses requests over a token bucket (429, flag RL), listener-wide or per route.
import type {
  FilterStatus,
  FilterStream,
  HttpFilter,
  HttpFilterConfig,
  HttpFilterFactory,
} from '../filter.ts';
import {
  compileLocalRateLimit,
  LOCAL_RATELIMIT_TYPE_URL,
  type LocalRateLimitConfig,
} from './ratelimit-config.ts';

export { LOCAL_RATELIMIT_STATS, type LocalRateLimitStats } from './ratelimit-config.ts';

class LocalRateLimitFilter implements HttpFilter {
  private readonly name: string;
  private readonly listenerConfig: LocalRateLimitConfig;
  /** The config that decided this request (for the response headers). */
  private used: LocalRateLimitConfig | undefined;

  constructor(name: string, config: LocalRateLimitConfig) {
    this.name = name;
    this.listenerConfig = config;
  }

  decodeHeaders(stream: FilterStream): FilterStatus {
    // A route's typed_per_filter_config under this filter's name replaces the listener's config.
    const config =
      (stream.routeConfig?.(this.name) as LocalRateLimitConfig | undefined) ?? this.listenerConfig;
    const bucket = config.bucket;
    if (!bucket || config.enabled <= 0 || (config.enabled < 1 && Math.random() >= config.enabled))
      return 'Continue';
    const stats = config.stats;
    stats.enabled++;
    this.used = config;
    if (bucket.take() === 'allowed') {
      stats.ok++;
      return 'Continue';
    }
    stats.rateLimited++;
    if (config.enforced <= 0 || (config.enforced < 1 && Math.random() >= config.enforced)) return 'Continue';
    stats.enforced++;
    stream.sendLocalReply(config.status, 'local_rate_limited', 'RL', [
      ...config.responseHeaders,
      ...this.rateLimitHeaders(config),
    ]);
    return 'StopIteration';
  }

  encodeHeaders(_stream: FilterStream, _status: number, headers: string[]): void {
    if (this.used) headers.push(...this.rateLimitHeaders(this.used));
  }

  private rateLimitHeaders(config: LocalRateLimitConfig): string[] {
    const bucket = config.bucket;
    if (config.rateLimitHeaders === 'off' || !bucket) return [];
    return [
      'x-ratelimit-limit',
      String(bucket.maxTokens),
      'x-ratelimit-remaining',
      String(bucket.remaining()),
      'x-ratelimit-reset',
      String(bucket.resetSeconds()),
    ];
  }
}

export const localRateLimitFilterFactory: HttpFilterFactory = {
  typeUrl: LOCAL_RATELIMIT_TYPE_URL,
  terminal: false,
  parse(name, config, where): HttpFilterConfig {
    const compiled = compileLocalRateLimit(config, where);
    return { name, createFilter: () => new LocalRateLimitFilter(name, compiled) };
  },
  parsePerRoute(config, where) {
    return compileLocalRateLimit(config, where);
  },
};
