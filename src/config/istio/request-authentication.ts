// Istio RequestAuthentication (security.istio.io) → RequestAuthenticationModel: which JWTs a workload accepts and where it finds them.
import type { JwtRule, RequestAuthenticationModel } from '../../model/types.ts';
import type { Check } from '../check.ts';
import type { Reader } from '../read.ts';
import {
  boolean,
  defined,
  duration,
  isPlainObject,
  list,
  nonEmptyString,
  object,
  readObject,
  string,
  stringList,
  stringWith,
} from '../read.ts';
import type { ResourceContext } from './common.ts';
import { readSelector } from './workload-selector.ts';

/** Why a header name cannot carry a token or a claim (HTTP token characters, no pseudo-headers). */
function headerNameError(text: string): string | undefined {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(text) ? undefined : `"${text}" is not a valid header name`;
}

const headerName = stringWith(headerNameError);

/** An http(s) URL with a host, as Istio requires of `jwksUri`. */
function jwksUriError(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${text}" is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `"${text}" must be an http or https URL`;
  if (url.hostname === '') return `"${text}" has no host`;
  return undefined;
}

/** A JSON Web Key Set as text: `{"keys": [{"kty": ...}, ...]}`. */
function jwksError(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `jwks is not JSON: ${(error as Error).message}`;
  }
  if (!isPlainObject(parsed) || !Array.isArray(parsed.keys) || parsed.keys.length === 0)
    return 'jwks must be a JSON Web Key Set: {"keys": [ ... ]} with at least one key';
  for (const [i, key] of parsed.keys.entries())
    if (!isPlainObject(key) || typeof key.kty !== 'string') return `jwks key ${i} has no "kty"`;
  return undefined;
}

const fromHeader: Reader<{ name: string; prefix?: string }> = object((f) => {
  const name = f.required('name', headerName);
  const value = defined<{ name: string; prefix?: string }>({
    name: name ?? '',
    prefix: f.optional('prefix', string),
  });
  return name === undefined ? undefined : value;
});

const claimToHeader: Reader<{ header: string; claim: string }> = object((f) => {
  const header = f.required('header', headerName);
  const claim = f.required('claim', nonEmptyString);
  return header === undefined || claim === undefined ? undefined : { header, claim };
});

const OIDC_NOTE =
  'set jwksUri or jwks: discovering the keys from the issuer (OpenID Connect discovery) is not supported by weft (yet)';

const jwtRule: Reader<JwtRule> = (check, value, path) =>
  readObject(
    check,
    value,
    path,
    (f) => {
      const issuer = f.required('issuer', nonEmptyString);
      const jwks = f.optional('jwks', stringWith(jwksError));
      const jwksUri = f.optional('jwksUri', stringWith(jwksUriError));
      if (!f.has('jwks') && !f.has('jwksUri')) check.error(f.at('jwksUri'), OIDC_NOTE, 'missing');
      if (f.has('jwks') && f.has('jwksUri'))
        check.warn(f.at('jwksUri'), 'ignored: jwks is set and takes precedence (as in Istio)');
      const rule = defined<JwtRule>({
        issuer: issuer ?? '',
        audiences: f.optional('audiences', list(nonEmptyString)) ?? [],
        jwks,
        jwksUri: jwks === undefined ? jwksUri : undefined,
        fromHeaders: f.optional('fromHeaders', list(fromHeader)) ?? [],
        fromParams: f.optional('fromParams', list(nonEmptyString)) ?? [],
        fromCookies: f.optional('fromCookies', list(nonEmptyString)) ?? [],
        forwardOriginalToken: f.optional('forwardOriginalToken', boolean) ?? false,
        outputPayloadToHeader: f.optional('outputPayloadToHeader', headerName),
        outputClaimToHeaders: f.optional('outputClaimToHeaders', list(claimToHeader)) ?? [],
        timeoutMs: f.optional('timeout', duration()),
        spaceDelimitedClaims: f.optional('spaceDelimitedClaims', stringList) ?? [],
      });
      return issuer === undefined ? undefined : rule;
    },
    {
      unsupported: {
        jwks_uri: 'write jwksUri (the CRD also accepts this proto spelling; weft reads the JSON name)',
        presence: 'every JWT rule is optional unless an AuthorizationPolicy requires requestPrincipals',
      },
    },
  );

/** Reads `spec` of a RequestAuthentication named by `context`. */
export function readRequestAuthentication(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): RequestAuthenticationModel | undefined {
  return readObject(check, spec, ['spec'], (f) =>
    defined<RequestAuthenticationModel>({
      name: context.name,
      namespace: context.namespace,
      selector: readSelector(f),
      jwtRules: f.optional('jwtRules', list(jwtRule)) ?? [],
    }),
  );
}
