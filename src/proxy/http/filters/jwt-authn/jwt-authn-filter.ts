// envoy.filters.http.jwt_authn: verifies JWTs by the requirement of the first matching rule; 401 (403 for audiences) on failure.
import { compileScope, ScopedStats } from '../../../common/compile-scope.ts';
import type { Msg } from '../../../common/fields.ts';
import type {
  FilterStatus,
  FilterStream,
  HttpFilter,
  HttpFilterConfig,
  HttpFilterFactory,
} from '../filter.ts';
import { removeToken } from './extractor.ts';
import {
  compileJwtAuthn,
  type JwtAuthnConfig,
  type ProviderConfig,
  type Requirement,
  ruleMatches,
} from './jwt-authn-config.ts';
import { type JwtStatus, STATUS_MESSAGE, statusCode } from './status.ts';
import { type Verified, VerifyContext } from './verifier.ts';

export const JWT_AUTHN_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';

/** The dynamic metadata namespace of verified payloads (Istio's RBAC reads `payload` here). */
export const JWT_AUTHN_METADATA = 'envoy.filters.http.jwt_authn';

/** Counters named after Envoy's http.<prefix>.jwt_authn.*, per stat prefix. */
export class JwtAuthnStats {
  readonly prefix: string;
  allowed = 0;
  denied = 0;
  corsPreflightBypassed = 0;

  constructor(prefix: string) {
    this.prefix = prefix;
  }
}

const statsByPrefix = new ScopedStats((prefix) => new JwtAuthnStats(prefix));

/** The counters of a stat prefix in a proxy core (`owner` defaults to the compilation in progress). */
export function jwtAuthnStats(prefix: string, owner: object = compileScope()): JwtAuthnStats {
  return statsByPrefix.get(prefix, owner);
}

/** Every jwt_authn counter set of a proxy core, for /stats/prometheus. */
export function allJwtAuthnStats(owner: object): JwtAuthnStats[] {
  return [...statsByPrefix.entries(owner).values()];
}

/** A claim by name, `a.b` reaching into nested objects (Envoy's claim_to_headers). */
function claimValue(payload: Record<string, unknown>, name: string): unknown {
  let node: unknown = payload;
  for (const part of name.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, part))
      return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** A claim as a header value: strings, numbers and booleans; lists of those joined with `,`. */
function headerValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((v) => ['string', 'number', 'boolean'].includes(typeof v)))
    return value.join(',');
  return undefined;
}

/** The payload as RBAC sees it: space-delimited claims split into lists (normalize_payload_in_metadata). */
function metadataPayload(
  provider: ProviderConfig,
  payload: Record<string, unknown>,
): Record<string, unknown> {
  if (provider.spaceDelimitedClaims.size === 0) return payload;
  const out: Record<string, unknown> = { ...payload };
  for (const claim of provider.spaceDelimitedClaims) {
    const value = out[claim];
    if (typeof value === 'string') out[claim] = value.split(' ').filter((w) => w !== '');
  }
  return out;
}

/** `http://host/path` (without query, at most 256 characters) for the `realm` of WWW-Authenticate. */
function originalUri(stream: FilterStream): string {
  const head = stream.head;
  const uri = `${head.scheme}://${head.authority}${head.pathOnly()}`.replace(/["\\\r\n]/g, '');
  return uri.length > 256 ? uri.slice(0, 256) : uri;
}

class JwtAuthnFilter implements HttpFilter {
  private readonly config: JwtAuthnConfig;
  private readonly stats: JwtAuthnStats;
  private destroyed = false;

  constructor(config: JwtAuthnConfig, stats: JwtAuthnStats) {
    this.config = config;
    this.stats = stats;
  }

  decodeHeaders(stream: FilterStream): FilterStatus {
    const { config } = this;
    const head = stream.head;
    if (
      config.bypassCorsPreflight &&
      head.method === 'OPTIONS' &&
      head.get('origin') &&
      head.get('access-control-request-method')
    ) {
      this.stats.corsPreflightBypassed++;
      this.stats.allowed++;
      return 'Continue';
    }
    const rule = config.rules.find((r) => ruleMatches(r.match, head));
    if (rule === undefined || rule.requirement.kind === 'allowAll') return 'Continue';
    // Headers the filter writes from verified tokens never come from the client.
    const before = head.headers.length;
    for (const p of config.providers) {
      if (p.forwardPayloadHeader) head.remove(p.forwardPayloadHeader);
      for (const c of p.claimToHeaders) head.remove(c.header);
    }
    // A route matching on those headers must not see the client's values.
    if (head.headers.length !== before) stream.clearRouteCache?.();
    const context = new VerifyContext(head, config.providers, Math.floor(Date.now() / 1000));
    const loads = context.keysToLoad();
    if (loads.length === 0)
      return this.finish(stream, context, rule.requirement) ? 'Continue' : 'StopIteration';
    // Wait for the keys (each load is bounded by its http_uri.timeout), then verify.
    Promise.all(loads.map((source) => source.load())).then(() => {
      if (this.destroyed) return;
      if (this.finish(stream, context, rule.requirement)) stream.continueDecoding();
    });
    return 'StopIteration';
  }

  onDestroy(): void {
    this.destroyed = true;
  }

  /** Evaluates and applies the outcome; true when the request may go on. */
  private finish(stream: FilterStream, context: VerifyContext, requirement: Requirement): boolean {
    const status = context.evaluate(requirement);
    if (status !== 'Ok') {
      this.reject(stream, status);
      return false;
    }
    this.stats.allowed++;
    this.apply(stream, context.verified);
    const metadata = stream.streamInfo?.dynamicMetadata;
    if (metadata !== undefined)
      for (const [provider, failure] of context.failed)
        if (provider.failedStatusInMetadata)
          this.record(metadata, provider.failedStatusInMetadata, {
            code: statusCode(failure),
            message: STATUS_MESSAGE[failure],
          });
    return true;
  }

  private reject(stream: FilterStream, status: JwtStatus): void {
    this.stats.denied++;
    let challenge = `Bearer realm="${originalUri(stream)}"`;
    if (status !== 'JwtMissed') challenge += ', error="invalid_token"';
    stream.sendLocalReply(
      statusCode(status),
      this.config.stripFailureResponse ? '' : STATUS_MESSAGE[status],
      undefined,
      ['www-authenticate', challenge],
    );
  }

  /** What a verified token does to the request: metadata for RBAC, headers for the app, token removal. */
  private apply(stream: FilterStream, verified: readonly Verified[]): void {
    const head = stream.head;
    const metadata = stream.streamInfo?.dynamicMetadata;
    let changed = false;
    for (const { provider, jwt, location } of verified) {
      if (metadata !== undefined) {
        if (provider.payloadInMetadata)
          this.record(metadata, provider.payloadInMetadata, metadataPayload(provider, jwt.payload));
        if (provider.headerInMetadata) this.record(metadata, provider.headerInMetadata, jwt.header);
      }
      if (provider.forwardPayloadHeader) {
        let value = jwt.payloadSegment;
        if (provider.padForwardPayloadHeader) value += '='.repeat((4 - (value.length % 4)) % 4);
        head.set(provider.forwardPayloadHeader, value);
        changed = true;
      }
      for (const { header, claim } of provider.claimToHeaders) {
        const value = headerValue(claimValue(jwt.payload, claim));
        if (value === undefined) continue;
        head.set(header, value);
        changed = true;
      }
      if (!provider.forward && removeToken(head, location)) changed = true;
    }
    // Routes see the verified claims and no token (Envoy's clear_route_cache, always on here).
    if (changed) stream.clearRouteCache?.();
  }

  private record(metadata: Map<string, Record<string, unknown>>, key: string, value: unknown): void {
    let entry = metadata.get(JWT_AUTHN_METADATA);
    if (entry === undefined) {
      entry = {};
      metadata.set(JWT_AUTHN_METADATA, entry);
    }
    entry[key] = value;
  }
}

/** The registry entry: jwt_authn by its Envoy type URL. */
export const jwtAuthnFilterFactory: HttpFilterFactory = {
  typeUrl: JWT_AUTHN_TYPE_URL,
  terminal: false,
  parse(name: string, config: Msg, where: string): HttpFilterConfig {
    const parsed = compileJwtAuthn(config, where);
    const stats = jwtAuthnStats(parsed.statPrefix);
    return { name, createFilter: () => new JwtAuthnFilter(parsed, stats) };
  },
};
