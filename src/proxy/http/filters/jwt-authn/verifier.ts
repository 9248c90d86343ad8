// Evaluates a requirement tree for one request, as Envoy's verifiers do: providers, requires_any/all, allow_missing(_or_failed).

import type { RequestHead } from '../../request-head.ts';
import { matchString } from '../../router/matchers.ts';
import { extractTokens, type FoundToken, type TokenLocation } from './extractor.ts';
import type { JwksSource } from './jwks-source.ts';
import { checkClaims, type Jwt, parseJwt, verifySignature } from './jwt.ts';
import type { ProviderConfig, Requirement } from './jwt-authn-config.ts';
import type { JwtStatus } from './status.ts';

/** A token that verified, with its provider and where it was found. */
export interface Verified {
  provider: ProviderConfig;
  jwt: Jwt;
  location: TokenLocation;
}

/** One request's verification: parsed tokens and provider results are computed once. */
export class VerifyContext {
  readonly head: RequestHead;
  readonly providers: readonly ProviderConfig[];
  readonly nowSeconds: number;
  /** Tokens that verified, in order. */
  readonly verified: Verified[] = [];
  /** Providers whose token failed, with the status (for failed_status_in_metadata). */
  readonly failed = new Map<ProviderConfig, JwtStatus>();
  private readonly parsed = new Map<string, Jwt | JwtStatus>();
  private readonly results = new Map<string, JwtStatus>();

  constructor(head: RequestHead, providers: readonly ProviderConfig[], nowSeconds: number) {
    this.head = head;
    this.providers = providers;
    this.nowSeconds = nowSeconds;
  }

  parse(token: string): Jwt | JwtStatus {
    let jwt = this.parsed.get(token);
    if (jwt === undefined) {
      jwt = parseJwt(token);
      this.parsed.set(token, jwt);
    }
    return jwt;
  }

  /**
   * The key sources that must be loaded before the request can be verified without waiting:
   * remote sources of providers whose issuer matches a token present at their locations.
   */
  keysToLoad(): JwksSource[] {
    const out = new Set<JwksSource>();
    for (const provider of this.providers)
      for (const found of extractTokens(this.head, provider.locations)) {
        const jwt = this.parse(found.token);
        if (typeof jwt === 'string') continue;
        if (provider.claims.issuer !== '' && jwt.payload.iss !== provider.claims.issuer) continue;
        if (provider.keys.now(jwt.kid).state === 'missing') out.add(provider.keys);
      }
    return [...out];
  }

  /** Verifies one token against one provider: claims, subject, then the signature. */
  private verifyToken(found: FoundToken, provider: ProviderConfig, audiences?: readonly string[]): JwtStatus {
    const jwt = this.parse(found.token);
    if (typeof jwt === 'string') return jwt;
    const rules = audiences === undefined ? provider.claims : { ...provider.claims, audiences };
    const claims = checkClaims(jwt, rules, this.nowSeconds);
    if (claims !== 'Ok') return claims;
    if (
      provider.subjects &&
      !(typeof jwt.payload.sub === 'string' && matchString(provider.subjects, jwt.payload.sub))
    )
      return 'JwtSubjectNotAllowed';
    const keys = provider.keys.now(jwt.kid);
    if (keys.state !== 'ready') return 'JwksFetchFail';
    const status = verifySignature(jwt, keys.keys);
    if (status === 'Ok') this.verified.push({ provider, jwt, location: found.location });
    return status;
  }

  /** A provider requirement: a token must be at its locations, and every token there must verify. */
  private verifyProvider(provider: ProviderConfig, audiences?: readonly string[]): JwtStatus {
    const key = `${provider.name}|${audiences?.join(',') ?? ''}`;
    const memo = this.results.get(key);
    if (memo !== undefined) return memo;
    const tokens = extractTokens(this.head, provider.locations);
    let status: JwtStatus = tokens.length === 0 ? 'JwtMissed' : 'Ok';
    for (const found of tokens) {
      status = this.verifyToken(found, provider, audiences);
      if (status !== 'Ok') break;
    }
    if (status !== 'Ok' && status !== 'JwtMissed') this.failed.set(provider, status);
    this.results.set(key, status);
    return status;
  }

  /**
   * allow_missing(_or_failed) on their own: tokens at any provider's locations are each verified
   * by the provider whose issuer they name (and whose locations hold them).
   */
  private verifyAny(allowFailed: boolean): JwtStatus {
    const locations = this.providers.flatMap((p) => p.locations);
    const tokens = extractTokens(this.head, locations);
    if (tokens.length === 0) return 'Ok';
    let status: JwtStatus = 'Ok';
    for (const found of tokens) {
      const jwt = this.parse(found.token);
      let tokenStatus: JwtStatus;
      if (typeof jwt === 'string') tokenStatus = jwt;
      else {
        const provider = this.providers.find(
          (p) =>
            p.claims.issuer === jwt.payload.iss && p.locations.some((l) => sameLocation(l, found.location)),
        );
        tokenStatus = provider === undefined ? 'JwtUnknownIssuer' : this.verifyToken(found, provider);
        if (provider !== undefined && tokenStatus !== 'Ok') this.failed.set(provider, tokenStatus);
      }
      if (tokenStatus !== 'Ok' && status === 'Ok') status = tokenStatus;
    }
    return allowFailed ? 'Ok' : status;
  }

  /** Evaluates a requirement; the first Ok of an `any` and the first failure of an `all` end it. */
  evaluate(requirement: Requirement): JwtStatus {
    switch (requirement.kind) {
      case 'allowAll':
        return 'Ok';
      case 'provider':
        return this.verifyProvider(requirement.provider, requirement.audiences);
      case 'allow':
        return this.verifyAny(requirement.allowFailed);
      case 'all': {
        for (const child of requirement.children) {
          const status = this.evaluate(child);
          if (status !== 'Ok') return status;
        }
        return 'Ok';
      }
      case 'any': {
        if (requirement.children.length === 0) return this.verifyAny(requirement.allowMissingOrFailed);
        // Envoy prefers an error that is neither "missing" nor "unknown issuer", then "unknown issuer".
        let final: JwtStatus = 'JwtMissed';
        for (const child of requirement.children) {
          const status = this.evaluate(child);
          if (status === 'Ok') return 'Ok';
          if ((status !== 'JwtMissed' && status !== 'JwtUnknownIssuer') || final === 'JwtMissed')
            final = status;
        }
        if (requirement.allowMissingOrFailed) return 'Ok';
        if (requirement.allowMissing && final === 'JwtMissed') return 'Ok';
        return final;
      }
    }
  }
}

function sameLocation(a: TokenLocation, b: TokenLocation): boolean {
  return a.kind === b.kind && a.name === b.name;
}
