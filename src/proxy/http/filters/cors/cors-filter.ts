// envoy.filters.http.cors: answers allowed preflights and adds CORS headers to allowed origins' responses (Envoy's semantics).

import { unsupported } from '../../../common/fields.ts';
import { matchString } from '../../router/matchers.ts';
import type { FilterStatus, FilterStream, HttpFilter, HttpFilterFactory } from '../filter.ts';
import {
  CORS_POLICY_TYPE_URL,
  CORS_TYPE_URL,
  type CorsConfig,
  checkCorsFilter,
  compileCorsPolicy,
} from './cors-config.ts';

class CorsFilter implements HttpFilter {
  private readonly name: string;
  /** Set when the request came from an origin the route's policy allows. */
  private allowed: { policy: CorsConfig; origin: string } | undefined;

  constructor(name: string) {
    this.name = name;
  }

  decodeHeaders(stream: FilterStream): FilterStatus {
    const policy = stream.routeConfig?.(this.name) as CorsConfig | undefined;
    const origin = stream.head.get('origin');
    if (policy === undefined || origin === undefined || origin === '') return 'Continue';
    const allowed = policy.origins.some((m) => matchString(m, origin));
    const preflight =
      stream.head.method === 'OPTIONS' && (stream.head.get('access-control-request-method') ?? '') !== '';
    if (!preflight) {
      if (allowed) this.allowed = { policy, origin };
      return 'Continue';
    }
    if (!allowed) {
      if (policy.forwardNotMatchingPreflights) return 'Continue';
      stream.sendLocalReply(200, '', undefined);
      return 'StopIteration';
    }
    const headers = ['access-control-allow-origin', origin];
    if (policy.allowCredentials) headers.push('access-control-allow-credentials', 'true');
    if (policy.allowMethods !== '') headers.push('access-control-allow-methods', policy.allowMethods);
    if (policy.allowHeaders !== '') headers.push('access-control-allow-headers', policy.allowHeaders);
    if (policy.maxAge !== '') headers.push('access-control-max-age', policy.maxAge);
    stream.sendLocalReply(200, '', undefined, headers);
    return 'StopIteration';
  }

  encodeHeaders(_stream: FilterStream, _status: number, headers: string[]): void {
    if (this.allowed === undefined) return;
    const { policy, origin } = this.allowed;
    headers.push('access-control-allow-origin', origin);
    if (policy.allowCredentials) headers.push('access-control-allow-credentials', 'true');
    if (policy.exposeHeaders !== '') headers.push('access-control-expose-headers', policy.exposeHeaders);
  }
}

/** The filter (type Cors, listener level); its policies come per route. */
export const corsFilterFactory: HttpFilterFactory = {
  typeUrl: CORS_TYPE_URL,
  terminal: false,
  parse(name, config, where) {
    checkCorsFilter(config, where);
    return { name, routeOnly: true, createFilter: () => new CorsFilter(name) };
  },
};

/** A route's CorsPolicy (typed_per_filter_config is parsed by its own type URL); not a listener filter. */
export const corsPolicyFactory: HttpFilterFactory = {
  typeUrl: CORS_POLICY_TYPE_URL,
  terminal: false,
  parse(_name, _config, where) {
    return unsupported(where, 'a CorsPolicy as a listener filter (give it per route; the filter is Cors)');
  },
  parsePerRoute(config, where) {
    return compileCorsPolicy(config, where);
  },
};
