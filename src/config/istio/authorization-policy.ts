// Istio AuthorizationPolicy (security.istio.io) → AuthorizationPolicyModel, with Istio's validation of sources, operations and conditions.
import type {
  AuthorizationAction,
  AuthorizationCondition,
  AuthorizationOperation,
  AuthorizationPolicyModel,
  AuthorizationRule,
  AuthorizationSource,
} from '../../model/types.ts';
import type { Check, FieldPath } from '../check.ts';
import { isIpAddress } from '../host.ts';
import type { Fields, Reader } from '../read.ts';
import { defined, describe, list, object, readObject, string } from '../read.ts';
import type { ResourceContext } from './common.ts';
import { readSelector } from './workload-selector.ts';

/** Why `text` is not an IP address or CIDR block, or undefined. */
export function ipOrCidrError(text: string): string | undefined {
  const [ip, bits, extra] = text.split('/');
  const maxBits = ip.includes(':') ? 128 : 32;
  if (
    isIpAddress(ip) &&
    extra === undefined &&
    (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits))
  )
    return undefined;
  return `"${text}" is not an IP address or CIDR block`;
}

/** Why `text` is not a port number, or undefined. */
function portError(text: string): string | undefined {
  return /^\d{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 65535
    ? undefined
    : `"${text}" is not a port number (1-65535)`;
}

/**
 * Why a path with Istio template operators is not valid, or undefined: `{*}` (one segment) and
 * `{**}` (any number of segments) must each be a whole segment, and `{**}` the last operator.
 */
export function pathTemplateError(path: string): string | undefined {
  if (!path.includes('{') && !path.includes('}')) return undefined;
  if (!path.startsWith('/')) return `path template "${path}" must start with "/"`;
  let sawDoubleStar = false;
  for (const segment of path.split('/').slice(1)) {
    if (!segment.includes('{') && !segment.includes('}')) continue;
    if (segment !== '{*}' && segment !== '{**}')
      return `path template "${path}": "${segment}" must be a whole segment {*} or {**}`;
    if (sawDoubleStar) return `path template "${path}": {**} must be the last operator`;
    if (segment === '{**}') sawDoubleStar = true;
  }
  return undefined;
}

/** How one list of values is checked: `rule` says why an entry is not acceptable. */
type ValueRule = (text: string) => string | undefined;

/** Istio's wildcards are a leading or trailing `*` (or `*` alone); one inside a value is literal. */
function wildcardNote(check: Check, path: FieldPath, text: string): void {
  if (text.length > 1 && text.slice(1, -1).includes('*'))
    check.warn(
      path,
      `"${text}": only a leading or trailing "*" is a wildcard; this one is matched literally`,
    );
}

/**
 * A list of non-empty strings checked by `rule` (Istio's repeated string fields). An empty list is
 * the same as an absent one (proto3), so it reads as undefined.
 */
function values(rule?: ValueRule, wildcards = true): Reader<string[]> {
  return (check, value, path) => {
    const entries = list<string>((c, entry, at) => {
      const text = string(c, entry, at);
      if (text === undefined) return undefined;
      const error = text === '' ? 'empty values are not allowed' : rule?.(text);
      if (error !== undefined) {
        c.error(at, error);
        return undefined;
      }
      if (wildcards) wildcardNote(c, at, text);
      return text;
    })(check, value, path);
    return entries === undefined || entries.length === 0 ? undefined : entries;
  };
}

const SOURCE_FIELDS = {
  principals: values(),
  notPrincipals: values(),
  requestPrincipals: values(),
  notRequestPrincipals: values(),
  namespaces: values(),
  notNamespaces: values(),
  ipBlocks: values(ipOrCidrError, false),
  notIpBlocks: values(ipOrCidrError, false),
  remoteIpBlocks: values(ipOrCidrError, false),
  notRemoteIpBlocks: values(ipOrCidrError, false),
} as const;

const OPERATION_FIELDS = {
  hosts: values(),
  notHosts: values(),
  ports: values(portError, false),
  notPorts: values(portError, false),
  methods: values(),
  notMethods: values(),
  paths: values(pathTemplateError),
  notPaths: values(pathTemplateError),
} as const;

/** Reads the fields of `table` from `f`; reports an issue when none is set (Istio: must not be empty). */
function readAll<T extends object>(
  f: Fields,
  table: Readonly<Record<string, Reader<string[]>>>,
  what: string,
): T {
  const before = f.check.issueCount;
  const out: Record<string, string[]> = {};
  for (const [key, reader] of Object.entries(table)) {
    const read = f.optional(key, reader);
    if (read !== undefined) out[key] = read;
  }
  const written = Object.values(f.value).some(
    (v) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0),
  );
  if (Object.keys(out).length === 0 && f.check.issueCount === before && !written)
    f.check.error(f.path, `${what} must set at least one of ${Object.keys(table).join(', ')}`);
  return out as T;
}

const UNSUPPORTED_SOURCE = {
  serviceAccounts: 'use principals (<trust-domain>/ns/<namespace>/sa/<name>)',
  notServiceAccounts: 'use notPrincipals (<trust-domain>/ns/<namespace>/sa/<name>)',
  trustDomains: 'weft has one trust domain; use principals',
  notTrustDomains: 'weft has one trust domain; use notPrincipals',
};

const source: Reader<AuthorizationSource> = object((f) =>
  f.required(
    'source',
    object((s) => readAll<AuthorizationSource>(s, SOURCE_FIELDS, 'a source'), {
      unsupported: UNSUPPORTED_SOURCE,
    }),
  ),
);

const operation: Reader<AuthorizationOperation> = object((f) =>
  f.required(
    'operation',
    object((o) => readAll<AuthorizationOperation>(o, OPERATION_FIELDS, 'an operation')),
  ),
);

/** The `when` keys Istio defines for HTTP, with how their values are checked. */
const CONDITION_KEYS: Readonly<Record<string, ValueRule | null>> = {
  'source.ip': ipOrCidrError,
  'remote.ip': ipOrCidrError,
  'source.namespace': null,
  'source.principal': null,
  'request.auth.principal': null,
  'request.auth.audiences': null,
  'request.auth.presenter': null,
  'destination.ip': ipOrCidrError,
  'destination.port': portError,
  'connection.sni': null,
};

/** `[a]`, `[a][b]` → the names, or undefined when malformed. */
export function bracketNames(text: string): string[] | undefined {
  const names: string[] = [];
  let rest = text;
  while (rest !== '') {
    const match = /^\[([^[\]]+)\]/.exec(rest);
    if (match === null) return undefined;
    names.push(match[1]);
    rest = rest.slice(match[0].length);
  }
  return names.length > 0 ? names : undefined;
}

/** Why a `when` key is not one Istio defines (or weft supports), or undefined; `reason` for the issue. */
function conditionKeyError(key: string): { message: string; unsupported: boolean } | undefined {
  if (Object.hasOwn(CONDITION_KEYS, key)) return undefined;
  if (key.startsWith('request.headers')) {
    const names = bracketNames(key.slice('request.headers'.length));
    return names?.length === 1
      ? undefined
      : { message: `"${key}" must name one header: request.headers[<name>]`, unsupported: false };
  }
  if (key.startsWith('request.auth.claims')) {
    return bracketNames(key.slice('request.auth.claims'.length)) === undefined
      ? {
          message: `"${key}" must name a claim: request.auth.claims[<name>] (nested: [a][b])`,
          unsupported: false,
        }
      : undefined;
  }
  if (key.startsWith('experimental.envoy.filters.'))
    return {
      message: `"${key}": experimental Envoy metadata attributes are not supported by weft`,
      unsupported: true,
    };
  return {
    message: `unknown attribute "${key}"; Istio's are ${[...Object.keys(CONDITION_KEYS), 'request.headers[<name>]', 'request.auth.claims[<name>]'].join(', ')}`,
    unsupported: false,
  };
}

const condition: Reader<AuthorizationCondition> = (check, value, path) =>
  readObject(check, value, path, (f) => {
    const key = f.required('key', string);
    if (key === undefined) return undefined;
    const keyError = conditionKeyError(key);
    if (keyError !== undefined) {
      check.error(f.at('key'), keyError.message, keyError.unsupported ? 'unsupported' : 'invalid');
      f.optional('values', (_c, v) => v);
      f.optional('notValues', (_c, v) => v);
      return undefined;
    }
    // Addresses and ports are checked as such; other attributes take Istio's `*` wildcards.
    const rule = Object.hasOwn(CONDITION_KEYS, key) ? (CONDITION_KEYS[key] ?? undefined) : undefined;
    const before = check.issueCount;
    const condition = defined<AuthorizationCondition>({
      key,
      values: f.optional('values', values(rule, rule === undefined)),
      notValues: f.optional('notValues', values(rule, rule === undefined)),
    });
    if (condition.values === undefined && condition.notValues === undefined && check.issueCount === before)
      check.error(f.path, `condition on ${key} must set values or notValues`, 'missing');
    return condition;
  });

const rule: Reader<AuthorizationRule> = object((f) => ({
  from: f.optional('from', list(source, { nonEmpty: true })) ?? [],
  to: f.optional('to', list(operation, { nonEmpty: true })) ?? [],
  when: f.optional('when', list(condition, { nonEmpty: true })) ?? [],
}));

const ACTIONS = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] as const;

const action: Reader<AuthorizationAction> = (check, value, path) => {
  if (value === 'CUSTOM') {
    check.error(
      path,
      'action CUSTOM is not supported by weft (yet): external authorization providers are not implemented',
      'unsupported',
    );
    return undefined;
  }
  if (typeof value === 'string' && (ACTIONS as readonly string[]).includes(value))
    return value as AuthorizationAction;
  check.error(path, `must be one of ${ACTIONS.join(', ')}, got ${describe(value)}`);
  return undefined;
};

/** Go's strconv.ParseBool, which Istio uses for annotations. */
const BOOLEAN_TEXT: Readonly<Record<string, boolean>> = {
  '1': true,
  t: true,
  T: true,
  TRUE: true,
  true: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  FALSE: false,
  false: false,
  False: false,
};

export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';

/** The `istio.io/dry-run` annotation as a boolean (absent: false). */
export function readDryRun(check: Check, context: ResourceContext): boolean {
  const text = context.annotations?.[DRY_RUN_ANNOTATION];
  if (text === undefined) return false;
  if (Object.hasOwn(BOOLEAN_TEXT, text)) return BOOLEAN_TEXT[text];
  check.error(
    ['metadata', 'annotations', DRY_RUN_ANNOTATION],
    `must be "true" or "false", got ${JSON.stringify(text)}`,
  );
  return false;
}

/** Reads `spec` of an AuthorizationPolicy named by `context`. */
export function readAuthorizationPolicy(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): AuthorizationPolicyModel | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const selector = readSelector(f);
    const chosen = f.optional('action', action);
    f.optional('provider', (c, _value, path) => {
      c.error(
        path,
        'field provider is not supported by weft (yet): it belongs to action CUSTOM',
        'unsupported',
      );
      return undefined;
    });
    const rules = f.optional('rules', list(rule)) ?? [];
    if (f.has('action') && chosen === undefined) return undefined;
    return defined<AuthorizationPolicyModel>({
      name: context.name,
      namespace: context.namespace,
      origin: { kind: 'AuthorizationPolicy', namespace: context.namespace, name: context.name },
      selector,
      serviceAccount: undefined,
      action: chosen ?? 'ALLOW',
      dryRun: readDryRun(check, context),
      rules,
    });
  });
}
