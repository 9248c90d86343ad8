// Security generator (pure): a workload's AuthorizationPolicies and RequestAuthentications → the jwt_authn and RBAC
// http_filters of its inbound HCM, as Istio's authz builder and authn policy applier generate them; and its mTLS mode.
import {
  authorizationPoliciesFor,
  type EffectiveMtlsMode,
  type PolicyTarget,
  peerAuthenticationFor,
  requestAuthenticationsFor,
} from '../../../model/policies.ts';
import type {
  AuthorizationCondition,
  AuthorizationOperation,
  AuthorizationPolicyModel,
  AuthorizationRule,
  AuthorizationSource,
  JwtRule,
  MeshSnapshot,
  RequestAuthenticationModel,
} from '../../../model/types.ts';
import type {
  CidrRange,
  HeaderMatcher,
  HttpFilter,
  JwtAuthentication,
  JwtProvider,
  JwtRequirement,
  MetadataMatcher,
  NetworkFilter,
  Permission,
  Principal,
  Rbac,
  RbacPolicy,
  StringMatcher,
  ValueMatcher,
} from '../../../xds/messages/index.ts';
import { CONFIG_TYPE, type Typed } from '../../../xds/type-urls.ts';
import type { HeaderMatchForm } from './clients.ts';
import { duration } from './common.ts';

/** A Permission or a Principal: attribute generators build either, and their `side` says which. */
type Rule = Permission | Principal;

export const RBAC_FILTER_NAME = 'envoy.filters.http.rbac';
export const JWT_AUTHN_FILTER_NAME = 'envoy.filters.http.jwt_authn';
export const RBAC_CONFIG_TYPE = CONFIG_TYPE.rbac;
export const JWT_AUTHN_CONFIG_TYPE = CONFIG_TYPE.jwtAuthn;

/** Where jwt_authn puts verified payloads and RBAC reads `request.auth.*` (Istio's names). */
const JWT_METADATA_FILTER = 'envoy.filters.http.jwt_authn';
const JWT_PAYLOAD_KEY = 'payload';

/** Istio's shadow (dry-run) stat prefixes. */
const DRY_RUN_PREFIX = { ALLOW: 'istio_dry_run_allow_', DENY: 'istio_dry_run_deny_' } as const;

/** Istio's JWKS fetch timeout and cache duration for remote JWKS. */
const JWKS_TIMEOUT_MS = 5_000;
const JWKS_CACHE_MS = 300_000;

// ---- Envoy matcher builders ----

/** RE2 and JavaScript regex escaping of a literal. */
function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Istio's string value → envoy.type.matcher.v3.StringMatcher: `*` is any non-empty value,
 * `*x` a suffix, `x*` a prefix, else exact. `prefix` is prepended to what is matched.
 */
function stringMatcher(value: string, prefix = '', ignoreCase = false): StringMatcher {
  const ic = ignoreCase ? { ignore_case: true } : {};
  if (value === '*') return { safe_regex: { regex: '.+' } };
  if (value.startsWith('*')) {
    const suffix = value.slice(1);
    return prefix === ''
      ? { suffix, ...ic }
      : { safe_regex: { regex: `${escapeRegex(prefix)}.*${escapeRegex(suffix)}` } };
  }
  if (value.endsWith('*')) return { prefix: prefix + value.slice(0, -1), ...ic };
  return { exact: prefix + value, ...ic };
}

/** Istio's header value → HeaderMatcher (`*` means present), in the form the proxy accepts (generate/clients.ts). */
function headerMatcher(
  name: string,
  value: string,
  form: HeaderMatchForm,
  ignoreCase = false,
): HeaderMatcher {
  if (value === '*') return { name, present_match: true };
  const matcher = stringMatcher(value, '', ignoreCase);
  return form === 'legacy' ? legacyHeaderMatcher(name, matcher) : { name, string_match: matcher };
}

/**
 * The same match in HeaderMatcher's deprecated fields, for gRPC servers that predate
 * `string_match` (gRFC A63): they have no `ignore_case`, so such a match becomes an RE2 `(?i)` regex.
 */
function legacyHeaderMatcher(name: string, m: StringMatcher): HeaderMatcher {
  if (m.ignore_case) {
    const regex =
      'exact' in m
        ? escapeRegex(m.exact)
        : 'prefix' in m
          ? `${escapeRegex(m.prefix)}.*`
          : 'suffix' in m
            ? `.*${escapeRegex(m.suffix)}`
            : 'contains' in m
              ? `.*${escapeRegex(m.contains)}.*`
              : m.safe_regex.regex;
    return { name, safe_regex_match: { regex: `(?i)${regex}` } };
  }
  if ('exact' in m) return { name, exact_match: m.exact };
  if ('prefix' in m) return { name, prefix_match: m.prefix };
  if ('suffix' in m) return { name, suffix_match: m.suffix };
  if ('contains' in m) return { name, safe_regex_match: { regex: `.*${escapeRegex(m.contains)}.*` } };
  return { name, safe_regex_match: m.safe_regex };
}

/** An Istio path with template operators (`{*}` one segment, `{**}` any) → a full-match regex. */
function pathTemplateRegex(path: string): string {
  return path
    .split('/')
    .map((segment) => (segment === '{*}' ? '[^/]+' : segment === '{**}' ? '.*' : escapeRegex(segment)))
    .join('/');
}

function pathMatcher(path: string): { path: StringMatcher } {
  if (path.includes('{')) return { path: { safe_regex: { regex: pathTemplateRegex(path) } } };
  return { path: stringMatcher(path) };
}

/** `10.0.0.0/8` or `10.1.2.3` → CidrRange. */
function cidr(value: string): CidrRange {
  const [address, bits] = value.split('/');
  const len = bits === undefined ? (address.includes(':') ? 128 : 32) : Number(bits);
  return { address_prefix: address, prefix_len: { value: len } };
}

function jwtClaimMatcher(path: readonly string[], value: ValueMatcher): MetadataMatcher {
  return {
    filter: JWT_METADATA_FILTER,
    path: [JWT_PAYLOAD_KEY, ...path].map((key) => ({ key })),
    value,
  };
}

/** Istio's matcher for a claim that may be a string or a list of strings. */
function claimListMatcher(path: readonly string[], values: readonly string[]): MetadataMatcher {
  const strings: ValueMatcher = {
    or_match: { value_matchers: values.map((v) => ({ string_match: stringMatcher(v) })) },
  };
  return jwtClaimMatcher(path, {
    or_match: { value_matchers: [{ list_match: { one_of: strings } }, strings] },
  });
}

// ---- Istio attribute generators ----

/** What one Istio attribute becomes: a permission (what is asked) or a principal (who asks). */
type Generated =
  | { side: 'permission' | 'principal'; rules: Rule[] }
  | { side: 'principal'; whole: Principal };

/** The context attribute generators need. */
interface GenerateScope {
  /** The workload port the inbound listener serves (ports are decided here; docs/security.md). */
  workloadPort: number;
  /** Its name (`--app-port-name`), which a Linkerd Server may select it by. */
  workloadPortName?: string;
  /** How header matchers are written for this proxy. */
  headerForm: HeaderMatchForm;
  /** Set for the network (TCP) RBAC filter: the action whose rules are generated (HTTP-only fields, below). */
  tcpAction?: EnvoyAction;
}

/** Istio's attributes a TCP connection does not have. */
function httpOnly(key: string): boolean {
  return (
    key === 'hosts' || key === 'methods' || key === 'paths' || key.startsWith('request.') // headers, auth.*
  );
}

/** Thrown for an ALLOW rule that uses an HTTP-only field on TCP: Istio drops the whole rule (it matches nothing). */
class HttpOnlyRule extends Error {}

const ANY: Rule = { any: true };
const NEVER_PERMISSION: Permission = { not_rule: { any: true } };

function requestPrincipal(value: string): Principal {
  // Istio splits at the last "/" (the issuer may be a URL) and matches iss and sub separately.
  const at = value.lastIndexOf('/');
  const [iss, sub] = at >= 0 ? [value.slice(0, at), value.slice(at + 1)] : [value, ''];
  const any: StringMatcher = { safe_regex: { regex: '.+' } };
  let matchIss: StringMatcher;
  let matchSub: StringMatcher;
  if (value === '*') [matchIss, matchSub] = [any, any];
  else if (value.startsWith('*')) {
    if (at >= 0) [matchIss, matchSub] = [iss === '*' ? any : { suffix: iss.slice(1) }, { exact: sub }];
    else [matchIss, matchSub] = [any, { suffix: value.slice(1) }];
  } else if (value.endsWith('*')) {
    if (at >= 0) [matchIss, matchSub] = [{ exact: iss }, sub === '*' ? any : { prefix: sub.slice(0, -1) }];
    else [matchIss, matchSub] = [{ prefix: value.slice(0, -1) }, any];
  } else [matchIss, matchSub] = [{ exact: iss }, { exact: sub }];
  return {
    and_ids: {
      ids: [
        { metadata: jwtClaimMatcher(['iss'], { string_match: matchIss }) },
        { metadata: jwtClaimMatcher(['sub'], { string_match: matchSub }) },
      ],
    },
  };
}

/**
 * The Envoy rules for one Istio attribute and its values (ORed). `key` is Istio's attribute
 * name (`source.principal`, `request.headers[x]`, ...) or an operation field.
 */
function generate(key: string, values: readonly string[], scope: GenerateScope): Generated {
  const each = (f: (v: string) => Rule) => values.map(f);
  switch (key) {
    case 'source.principal':
      return {
        side: 'principal',
        rules: each((v) => ({ authenticated: { principal_name: stringMatcher(v, 'spiffe://') } })),
      };
    case 'source.namespace':
      return {
        side: 'principal',
        rules: each((v) => ({
          authenticated: {
            principal_name: { safe_regex: { regex: `.*/ns/${v.split('*').map(escapeRegex).join('.*')}/.*` } },
          },
        })),
      };
    case 'request.auth.principal':
      return { side: 'principal', rules: each(requestPrincipal) };
    case 'source.ip':
      return { side: 'principal', rules: each((v) => ({ direct_remote_ip: cidr(v) })) };
    case 'remote.ip':
      return { side: 'principal', rules: each((v) => ({ remote_ip: cidr(v) })) };
    case 'request.auth.audiences':
      return { side: 'principal', whole: { metadata: claimListMatcher(['aud'], values) } };
    case 'request.auth.presenter':
      return { side: 'principal', whole: { metadata: claimListMatcher(['azp'], values) } };
    case 'hosts':
      return {
        side: 'permission',
        rules: each((v) => ({ header: headerMatcher(':authority', v, scope.headerForm, true) })),
      };
    case 'methods':
      return {
        side: 'permission',
        rules: each((v) => ({ header: headerMatcher(':method', v, scope.headerForm) })),
      };
    case 'paths':
      return { side: 'permission', rules: each((v) => ({ url_path: pathMatcher(v) })) };
    case 'ports':
    case 'destination.port':
      // The sidecar's inbound listener serves one workload port: a port either is it or never matches.
      return {
        side: 'permission',
        rules: each((v) =>
          Number(v) === scope.workloadPort || v === scope.workloadPortName ? ANY : NEVER_PERMISSION,
        ),
      };
    case 'destination.ip':
      return { side: 'permission', rules: each((v) => ({ destination_ip: cidr(v) })) };
    case 'connection.sni':
      return { side: 'permission', rules: each((v) => ({ requested_server_name: stringMatcher(v) })) };
  }
  if (key.startsWith('request.headers[')) {
    const name = key.slice('request.headers['.length, -1);
    return { side: 'principal', rules: each((v) => ({ header: headerMatcher(name, v, scope.headerForm) })) };
  }
  if (key.startsWith('request.auth.claims[')) {
    const path = key
      .slice('request.auth.claims'.length)
      .split('][')
      .map((part) => part.replace(/^\[|\]$/g, ''));
    return { side: 'principal', whole: { metadata: claimListMatcher(path, values) } };
  }
  // Config validation admits only the keys above.
  throw new Error(`no generator for attribute ${key}`);
}

/** One attribute with values and notValues → AND-ed Envoy rules on its side. */
interface Condition {
  key: string;
  values?: readonly string[];
  notValues?: readonly string[];
}

function rulesOf(
  condition: Condition,
  scope: GenerateScope,
): { side: 'permission' | 'principal'; rules: Rule[] } {
  const out: Rule[] = [];
  let side: 'permission' | 'principal' = 'principal';
  if (
    scope.tcpAction !== undefined &&
    httpOnly(condition.key) &&
    (condition.values?.length || condition.notValues?.length)
  ) {
    // Istio on TCP: an ALLOW rule with such a field matches nothing; a DENY or AUDIT rule drops the field (denies more).
    if (scope.tcpAction === 'ALLOW') throw new HttpOnlyRule(condition.key);
    return { side, rules: out };
  }
  const part = (values: readonly string[] | undefined, negate: boolean) => {
    if (values === undefined || values.length === 0) return;
    const generated = generate(condition.key, values, scope);
    side = generated.side;
    const isPermission = side === 'permission';
    let rule: Rule;
    if ('whole' in generated) rule = generated.whole;
    else
      rule = isPermission
        ? { or_rules: { rules: generated.rules as Permission[] } }
        : { or_ids: { ids: generated.rules as Principal[] } };
    out.push(
      negate ? (isPermission ? { not_rule: rule as Permission } : { not_id: rule as Principal }) : rule,
    );
  };
  part(condition.values, false);
  part(condition.notValues, true);
  return { side, rules: out };
}

const SOURCE_KEYS: readonly [keyof AuthorizationSource, keyof AuthorizationSource, string][] = [
  ['principals', 'notPrincipals', 'source.principal'],
  ['requestPrincipals', 'notRequestPrincipals', 'request.auth.principal'],
  ['namespaces', 'notNamespaces', 'source.namespace'],
  ['remoteIpBlocks', 'notRemoteIpBlocks', 'remote.ip'],
  ['ipBlocks', 'notIpBlocks', 'source.ip'],
];

const OPERATION_KEYS: readonly [keyof AuthorizationOperation, keyof AuthorizationOperation, string][] = [
  ['hosts', 'notHosts', 'hosts'],
  ['methods', 'notMethods', 'methods'],
  ['paths', 'notPaths', 'paths'],
  ['ports', 'notPorts', 'ports'],
];

/** SMI route matches: a path regex anchored at its start, header regexes. */
function smiRules(operation: AuthorizationOperation): Permission[] {
  const out: Permission[] = [];
  if (operation.pathRegex !== undefined)
    out.push({ url_path: { path: { safe_regex: { regex: `(?:${operation.pathRegex}).*` } } } });
  for (const [name, regex] of Object.entries(operation.headerRegexes ?? {}))
    out.push({ header: { name, string_match: { safe_regex: { regex } } } });
  return out;
}

/** Istio's Model.Generate for one rule: permissions (one per `to`) and principals (one per `from`). */
function policyOf(rule: AuthorizationRule, scope: GenerateScope): RbacPolicy {
  const basePermission: Rule[] = [];
  const basePrincipal: Rule[] = [];
  for (const when of rule.when as readonly AuthorizationCondition[]) {
    const generated = rulesOf(when, scope);
    (generated.side === 'permission' ? basePermission : basePrincipal).push(...generated.rules);
  }
  const principals = (rule.from.length === 0 ? [undefined] : rule.from).map((source): Principal => {
    const ids: Rule[] = [];
    if (source !== undefined)
      for (const [values, notValues, key] of SOURCE_KEYS)
        ids.push(
          ...rulesOf(
            { key, values: source[values] as string[], notValues: source[notValues] as string[] },
            scope,
          ).rules,
        );
    ids.push(...basePrincipal);
    return { and_ids: { ids: (ids.length === 0 ? [ANY] : ids) as Principal[] } };
  });
  const permissions = (rule.to.length === 0 ? [undefined] : rule.to).map((operation): Permission => {
    const rules: Rule[] = [];
    if (operation !== undefined) {
      for (const [values, notValues, key] of OPERATION_KEYS)
        rules.push(
          ...rulesOf(
            { key, values: operation[values] as string[], notValues: operation[notValues] as string[] },
            scope,
          ).rules,
        );
      const smi = smiRules(operation);
      if (smi.length > 0 && scope.tcpAction === 'ALLOW') throw new HttpOnlyRule('SMI route');
      if (scope.tcpAction === undefined) rules.push(...smi);
    }
    rules.push(...basePermission);
    return { and_rules: { rules: (rules.length === 0 ? [ANY] : rules) as Permission[] } };
  });
  return { permissions, principals };
}

/** Istio's policy for a policy without rules: it never matches. */
const MATCH_NEVER: RbacPolicy = {
  permissions: [{ not_rule: { any: true } }],
  principals: [{ not_id: { any: true } }],
};

/** `ns[foo]-policy[bar]-rule[0]` (TrafficTargets: `ns[foo]-traffictarget[bar]-rule[0]`). */
function policyName(policy: AuthorizationPolicyModel, index: number): string {
  const kind = policy.origin.kind === 'AuthorizationPolicy' ? 'policy' : policy.origin.kind.toLowerCase();
  return `ns[${policy.namespace}]-${kind}[${policy.name}]-rule[${index}]`;
}

type EnvoyAction = 'ALLOW' | 'DENY' | 'LOG';

/** Istio's builder for one action: enforced rules and dry-run (shadow) rules → one RBAC filter config. */
function rbacConfig(
  policies: readonly AuthorizationPolicyModel[],
  action: EnvoyAction,
  scope: GenerateScope,
): Typed<typeof CONFIG_TYPE.rbac, Rbac> | undefined {
  if (policies.length === 0) return undefined;
  const enforced: Record<string, RbacPolicy> = {};
  const shadow: Record<string, RbacPolicy> = {};
  let hasEnforced = false;
  let hasShadow = false;
  for (const policy of policies) {
    const target = policy.dryRun ? shadow : enforced;
    if (policy.dryRun) hasShadow = true;
    else hasEnforced = true;
    policy.rules.forEach((rule, i) => {
      try {
        target[policyName(policy, i)] = policyOf(rule, scope);
      } catch (err) {
        if (!(err instanceof HttpOnlyRule)) throw err;
      }
    });
    if (policy.rules.length === 0) target[policyName(policy, 0)] = MATCH_NEVER;
  }
  const config: Typed<typeof CONFIG_TYPE.rbac, Rbac> = { '@type': RBAC_CONFIG_TYPE };
  if (hasEnforced) config.rules = { action, policies: enforced };
  if (hasShadow) {
    config.shadow_rules = { action, policies: shadow };
    if (action !== 'LOG') config.shadow_rules_stat_prefix = DRY_RUN_PREFIX[action];
  }
  return config;
}

// ---- RequestAuthentication → jwt_authn ----

/** Istio's cluster name for the host of a JWKS URI (the proxy fetches the URI directly; see docs/security.md). */
function jwksCluster(uri: string): string {
  const url = new URL(uri);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return `outbound|${port}||${url.hostname}`;
}

function jwtProvider(rule: JwtRule): JwtProvider {
  const provider: JwtProvider = { issuer: rule.issuer };
  if (rule.audiences.length > 0) provider.audiences = [...rule.audiences];
  if (rule.jwks !== undefined) provider.local_jwks = { inline_string: rule.jwks };
  else if (rule.jwksUri !== undefined)
    provider.remote_jwks = {
      http_uri: {
        uri: rule.jwksUri,
        cluster: jwksCluster(rule.jwksUri),
        timeout: duration(rule.timeoutMs ?? JWKS_TIMEOUT_MS),
      },
      cache_duration: duration(JWKS_CACHE_MS),
    };
  if (rule.forwardOriginalToken) provider.forward = true;
  if (rule.fromHeaders.length > 0)
    provider.from_headers = rule.fromHeaders.map((h) =>
      h.prefix === undefined ? { name: h.name } : { name: h.name, value_prefix: h.prefix },
    );
  if (rule.fromParams.length > 0) provider.from_params = [...rule.fromParams];
  if (rule.fromCookies.length > 0) provider.from_cookies = [...rule.fromCookies];
  if (rule.outputPayloadToHeader !== undefined) provider.forward_payload_header = rule.outputPayloadToHeader;
  provider.payload_in_metadata = JWT_PAYLOAD_KEY;
  provider.normalize_payload_in_metadata = {
    space_delimited_claims: [...new Set([...rule.spaceDelimitedClaims, 'permission', 'scope'])].sort(),
  };
  if (rule.outputClaimToHeaders.length > 0)
    provider.claim_to_headers = rule.outputClaimToHeaders.map((c) => ({
      header_name: c.header,
      claim_name: c.claim,
    }));
  return provider;
}

/**
 * Istio's jwt_authn config: a token, when present, must be valid; a request without one passes
 * (whether it must have one is AuthorizationPolicy's business). One provider: requires_any
 * [provider, allow_missing]; several: requires_any [each provider, requires_all [each
 * requires_any [provider, allow_missing]]].
 */
function jwtAuthnConfig(
  requestAuthentications: readonly RequestAuthenticationModel[],
): Typed<typeof CONFIG_TYPE.jwtAuthn, JwtAuthentication> | undefined {
  const rules = requestAuthentications.flatMap((r) => r.jwtRules);
  if (rules.length === 0) return undefined;
  const sorted = [...rules].sort((a, b) => (a.issuer < b.issuer ? -1 : a.issuer > b.issuer ? 1 : 0));
  const providers: Record<string, JwtProvider> = {};
  const eachOrMissing: JwtRequirement[] = [];
  const anyProvider: JwtRequirement[] = [];
  sorted.forEach((rule, i) => {
    const name = `origins-${i}`;
    providers[name] = jwtProvider(rule);
    eachOrMissing.push({ requires_any: { requirements: [{ provider_name: name }, { allow_missing: {} }] } });
    anyProvider.push({ provider_name: name });
  });
  const requires: JwtRequirement =
    eachOrMissing.length === 1
      ? eachOrMissing[0]
      : {
          requires_any: { requirements: [...anyProvider, { requires_all: { requirements: eachOrMissing } }] },
        };
  return {
    '@type': JWT_AUTHN_CONFIG_TYPE,
    providers,
    rules: [{ match: { prefix: '/' }, requires }],
    bypass_cors_preflight: true,
  };
}

// ---- The generator's surface ----

/** The policies that shape a workload's inbound HTTP filters. */
export interface InboundSecurity {
  authorization: AuthorizationPolicyModel[];
  requestAuthentication: RequestAuthenticationModel[];
}

export function inboundSecurityPolicies(snapshot: MeshSnapshot, target: PolicyTarget): InboundSecurity {
  return {
    authorization: authorizationPoliciesFor(snapshot, target),
    requestAuthentication: requestAuthenticationsFor(snapshot, target),
  };
}

/**
 * The http_filters a workload's inbound HCM needs before the router, in Istio's order:
 * jwt_authn, then RBAC for AUDIT (action LOG), DENY, ALLOW. Empty when no policy applies.
 * `workloadPort` is the port the inbound listener serves (the app port); `headerForm` how the
 * proxy reads header matchers (older proxyless gRPC servers: the deprecated fields);
 * `workloadPortName` the app port's name, when the sidecar gave one (Linkerd Servers name ports).
 */
export function inboundSecurityFilters(
  snapshot: MeshSnapshot,
  target: PolicyTarget,
  workloadPort: number,
  headerForm: HeaderMatchForm = 'string_match',
  workloadPortName?: string,
): HttpFilter[] {
  const { authorization, requestAuthentication } = inboundSecurityPolicies(snapshot, target);
  const scope: GenerateScope = { workloadPort, headerForm, workloadPortName };
  const filters: HttpFilter[] = [];
  const jwt = jwtAuthnConfig(requestAuthentication);
  if (jwt) filters.push({ name: JWT_AUTHN_FILTER_NAME, typed_config: jwt });
  const byAction = (action: AuthorizationPolicyModel['action']) =>
    authorization.filter((p) => p.action === action);
  for (const [action, envoyAction] of [
    ['AUDIT', 'LOG'],
    ['DENY', 'DENY'],
    ['ALLOW', 'ALLOW'],
  ] as const) {
    const config = rbacConfig(byAction(action), envoyAction, scope);
    if (config) filters.push({ name: RBAC_FILTER_NAME, typed_config: config });
  }
  return filters;
}

export const NETWORK_RBAC_FILTER_NAME = 'envoy.filters.network.rbac';
/** Istio's stat prefix of the TCP RBAC filter: counters are `tcp.rbac.allowed`, `tcp.rbac.denied`, ... */
const TCP_RBAC_STAT_PREFIX = 'tcp.';

/**
 * The network RBAC filters (AUDIT, DENY, ALLOW) a workload's inbound TCP chain needs before
 * tcp_proxy, as Istio's TCP builder generates them: TCP fields only (principals, namespaces, IP
 * blocks, ports); an ALLOW rule with an HTTP-only field (methods, paths, hosts, request
 * principals, request headers and JWT claims) is dropped, a DENY or AUDIT rule loses that field.
 * CUSTOM is refused at apply time, as for HTTP. Empty when no policy applies.
 */
export function inboundNetworkRbacFilters(
  snapshot: MeshSnapshot,
  target: PolicyTarget,
  workloadPort: number,
  workloadPortName?: string,
): NetworkFilter[] {
  const authorization = authorizationPoliciesFor(snapshot, target);
  const filters: NetworkFilter[] = [];
  for (const [action, envoyAction] of [
    ['AUDIT', 'LOG'],
    ['DENY', 'DENY'],
    ['ALLOW', 'ALLOW'],
  ] as const) {
    const scope: GenerateScope = {
      workloadPort,
      workloadPortName,
      headerForm: 'string_match',
      tcpAction: envoyAction,
    };
    const http = rbacConfig(
      authorization.filter((p) => p.action === action),
      envoyAction,
      scope,
    );
    if (!http) continue;
    const { '@type': _, ...rest } = http;
    filters.push({
      name: NETWORK_RBAC_FILTER_NAME,
      typed_config: { '@type': CONFIG_TYPE.networkRbac, stat_prefix: TCP_RBAC_STAT_PREFIX, ...rest },
    });
  }
  return filters;
}

/** Whether every rule of a DENY policy is about other ports than the workload's (a Linkerd Server of another port). */
function deniesOtherPortsOnly(policy: AuthorizationPolicyModel, port: number, portName?: string): boolean {
  const here = (p: string) => Number(p) === port || p === portName;
  return (
    policy.action === 'DENY' &&
    policy.rules.every(
      (r) => r.to.length > 0 && r.to.every((op) => op.ports !== undefined && !op.ports.some(here)),
    )
  );
}

/**
 * Whether an enforced (not dry-run) ALLOW or DENY policy applies to the workload's port `port`
 * (named `portName`): then traffic RBAC cannot see must be refused. A DENY policy whose rules
 * all name other ports cannot match here.
 */
export function authorizationEnforced(
  snapshot: MeshSnapshot,
  target: PolicyTarget,
  port: number,
  portName?: string,
): boolean {
  return authorizationPoliciesFor(snapshot, target).some(
    (p) => !p.dryRun && p.action !== 'AUDIT' && !deniesOtherPortsOnly(p, port, portName),
  );
}

/** The mTLS mode of a workload port's inbound traffic (PeerAuthentication, Istio precedence), for the LDS generator. */
export function inboundMtlsMode(
  snapshot: MeshSnapshot,
  workload: PolicyTarget,
  port: number,
): EffectiveMtlsMode {
  return peerAuthenticationFor(snapshot, workload, port);
}

/**
 * A cache key for everything above that depends on the workload: the policies that apply to it.
 * Workloads with equal keys (and equal ports) get equal security filters from one snapshot.
 */
export function securityCacheKey(snapshot: MeshSnapshot, target: PolicyTarget): string {
  if (!snapshot.authorizationPolicies?.length && !snapshot.requestAuthentications?.length) return '';
  const { authorization, requestAuthentication } = inboundSecurityPolicies(snapshot, target);
  return JSON.stringify([
    authorization.map((p) => `${p.origin.kind}/${p.namespace}/${p.name}`),
    requestAuthentication.map((r) => `${r.namespace}/${r.name}`),
  ]);
}
