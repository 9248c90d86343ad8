// Pieces shared by the Gateway API kinds: parent and backend references, hostnames, header matches and filters.

import { serviceHostname } from '../../model/hostnames.ts';
import type {
  HeaderMatch,
  HeaderOperations,
  MirrorPolicy,
  RouteDestination,
  RouteParent,
  StringMatch,
} from '../../model/types.ts';
import { hostSyntaxError } from '../host.ts';
import type { ResourceContext } from '../istio/common.ts';
import { regexError } from '../istio/string-match.ts';
import { dnsLabelError, dnsSubdomain } from '../names.ts';
import type { Fields, Reader } from '../read.ts';
import { defined, integer, list, nonEmptyString, object, oneOf, port, string } from '../read.ts';

/** The API group of the Gateway API kinds. */
export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

/** The group of the core kinds (Service), written `""` or `core`. */
function isCoreGroup(group: string): boolean {
  return group === '' || group === 'core';
}

const namespaceName: Reader<string> = (check, value, path) => {
  const text = nonEmptyString(check, value, path);
  if (text === undefined) return undefined;
  const error = dnsLabelError(text);
  if (error === undefined) return text;
  check.error(path, `namespace ${error}`);
  return undefined;
};

/**
 * A Gateway API hostname: a DNS name or `*.suffix`, lower-cased; no IP addresses, no port, no
 * bare `*` (as the spec says).
 */
export const hostname: Reader<string> = (check, value, path) => {
  const text = nonEmptyString(check, value, path)?.toLowerCase();
  if (text === undefined) return undefined;
  const error =
    text === '*'
      ? 'a hostname cannot be "*"; leave hostnames out to match every host'
      : hostSyntaxError(text);
  if (error === undefined) return text;
  check.error(path, error);
  return undefined;
};

/** Why a route without parentRefs routes nothing, and what to do. */
export const NO_PARENTS =
  'no parentRefs: the route attaches to no Gateway and no Service, so it routes nothing; add a parentRef (a Gateway, or a Service for mesh routing)';

/**
 * `spec.parentRefs` of a route. Optional upstream: a route without parents attaches to nothing
 * (no Gateway and, in the mesh, no Service), so it is accepted with a warning and left unattached.
 */
export function routeParents(f: Fields, context: ResourceContext): RouteParent[] {
  const parents = f.optional('parentRefs', list(parentRef(context))) ?? [];
  if (parents.length === 0 && f.check.issueCount === 0) f.check.warn(f.at('parentRefs'), NO_PARENTS);
  return parents;
}

/** `parentRefs[]`: a Gateway (ingress) or a Service (mesh routing, GAMMA). */
export function parentRef(context: ResourceContext): Reader<RouteParent> {
  return object((f) => {
    const kind = f.optional('kind', string) ?? 'Gateway';
    // The spec's default group is Gateway API's; a Service parent without one means the core group.
    const group = f.optional('group', string) ?? (kind === 'Service' ? '' : GATEWAY_API_GROUP);
    if (kind === 'Service' && !f.has('group'))
      f.check.warn(
        f.at('kind'),
        'read as the core Service (group: ""); the spec\'s default group is gateway.networking.k8s.io',
      );
    const name = f.required('name', dnsSubdomain);
    const namespace = f.optional('namespace', namespaceName) ?? context.namespace;
    const sectionName = f.optional('sectionName', nonEmptyString);
    const parentPort = f.optional('port', port);
    if (name === undefined) return undefined;
    if (kind === 'Gateway' && group === GATEWAY_API_GROUP)
      return defined<RouteParent>({ kind: 'Gateway', namespace, name, sectionName, port: parentPort });
    if (kind === 'Service' && isCoreGroup(group)) {
      if (sectionName !== undefined)
        f.check.error(
          f.at('sectionName'),
          'a Service parent is narrowed with port, not sectionName',
          'unsupported',
        );
      return defined<RouteParent>({
        kind: 'Service',
        namespace,
        name,
        hostname: serviceHostname(name, namespace, context.domainSuffix),
        port: parentPort,
      });
    }
    f.check.error(
      f.path,
      `parentRef ${group === '' ? '' : `${group}/`}${kind} is not supported; attach routes to a Gateway (${GATEWAY_API_GROUP}) or a Service`,
      'unsupported',
    );
    return undefined;
  });
}

/** What a backendRef says: the destination (weight as written, Gateway API's relative weights) and its filters' header operations. */
export interface BackendRefValue {
  destination: RouteDestination;
  /** Gateway API default weight is 1; 0 sends no traffic. */
  weight: number;
}

/**
 * `backendRefs[]` (and `requestMirror.backendRef`): a Service by name and port, in the route's
 * namespace or another one; another namespace's Service is used only while a ReferenceGrant
 * there permits it (checked when the snapshot is assembled: src/model/reference-grants.ts).
 */
export function backendRef(context: ResourceContext, options: { filters: boolean }): Reader<BackendRefValue> {
  return object((f) => {
    const group = f.optional('group', string) ?? '';
    const kind = f.optional('kind', string) ?? 'Service';
    const name = f.required('name', dnsSubdomain);
    const namespace = f.optional('namespace', namespaceName) ?? context.namespace;
    const backendPort = f.optional('port', port);
    const weight = f.optional('weight', integer(0, 1_000_000)) ?? 1;
    const ops = options.filters ? f.optional('filters', list(backendFilter)) : undefined;
    if (!(kind === 'Service' && isCoreGroup(group))) {
      f.check.error(
        f.at('kind'),
        `backend ${group === '' ? '' : `${group}/`}${kind} is not supported; weft routes to Services`,
        'unsupported',
      );
      return undefined;
    }
    if (name === undefined) return undefined;
    if (backendPort === undefined) {
      f.check.error(f.at('port'), 'port is required when the backend is a Service', 'missing');
      return undefined;
    }
    const request = ops?.find((op) => op.direction === 'request')?.operations;
    const response = ops?.find((op) => op.direction === 'response')?.operations;
    return {
      destination: defined<RouteDestination>({
        host: serviceHostname(name, namespace, context.domainSuffix),
        port: backendPort,
        weight,
        headers: request,
        responseHeaders: response,
      }),
      weight,
    };
  });
}

/** An HTTP header name as Gateway API accepts it (RFC 7230 token), lower-cased. */
const headerName: Reader<string> = (check, value, path) => {
  const text = nonEmptyString(check, value, path);
  if (text === undefined) return undefined;
  if (/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(text)) return text.toLowerCase();
  check.error(path, `"${text}" is not a valid header name`);
  return undefined;
};

/** `type` (Exact default, RegularExpression) + `value` → a StringMatch. */
function typedValue(f: Parameters<Parameters<typeof object>[0]>[0]): StringMatch | undefined {
  const type = f.optional('type', oneOf(['Exact', 'RegularExpression'])) ?? 'Exact';
  const value = f.required('value', string);
  if (value === undefined) return undefined;
  if (type === 'RegularExpression') {
    const error = regexError(value);
    if (error !== undefined) {
      f.check.error(f.at('value'), error);
      return undefined;
    }
    return { regex: value };
  }
  return { exact: value };
}

/** `matches[].headers[]`. */
export const headerMatch: Reader<HeaderMatch> = object((f) => {
  const name = f.required('name', headerName);
  const match = typedValue(f);
  return name === undefined || match === undefined ? undefined : { name, match, invert: false };
});

/** `matches[].queryParams[]` (names are case-sensitive). */
export const queryParamMatch: Reader<{ name: string; match: StringMatch }> = object((f) => {
  const name = f.required('name', nonEmptyString);
  const match = typedValue(f);
  return name === undefined || match === undefined ? undefined : { name, match };
});

const headerValues = list(
  object((f) => {
    const name = f.required('name', headerName);
    const value = f.required('value', string);
    return name === undefined || value === undefined ? undefined : { name, value };
  }),
);

/** RequestHeaderModifier / ResponseHeaderModifier → HeaderOperations. */
export const headerModifier: Reader<HeaderOperations> = object((f) => {
  const set = f.optional('set', headerValues) ?? [];
  const add = f.optional('add', headerValues) ?? [];
  return {
    set: Object.fromEntries(set.map((h) => [h.name, h.value])),
    add: Object.fromEntries(add.map((h) => [h.name, h.value])),
    remove: (f.optional('remove', list(headerName)) ?? []).map((h) => h.toLowerCase()),
  };
});

/** The filter types HTTPRoute defines; on a backendRef weft implements the header modifiers. */
const BACKEND_FILTER_TYPES = [
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestRedirect',
  'URLRewrite',
  'RequestMirror',
  'CORS',
  'ExtensionRef',
] as const;

/** A backendRef's own filters: header modifiers only (as most implementations). */
const backendFilter: Reader<{ direction: 'request' | 'response'; operations: HeaderOperations }> = object(
  (f) => {
    const type = f.required('type', oneOf(BACKEND_FILTER_TYPES));
    const request = f.optional('requestHeaderModifier', headerModifier);
    const response = f.optional('responseHeaderModifier', headerModifier);
    if (type !== undefined && type !== 'RequestHeaderModifier' && type !== 'ResponseHeaderModifier') {
      for (const key of Object.keys(f.value)) f.optional(key, () => undefined);
      f.check.error(
        f.at('type'),
        `filter ${type} on a backendRef is not supported by weft (yet); put it in the rule's filters`,
        'unsupported',
      );
      return undefined;
    }
    if (type === 'RequestHeaderModifier' && request) return { direction: 'request', operations: request };
    if (type === 'ResponseHeaderModifier' && response) return { direction: 'response', operations: response };
    if (type !== undefined)
      f.check.error(
        f.path,
        `filter type ${type} needs its ${type[0].toLowerCase()}${type.slice(1)} field`,
        'missing',
      );
    return undefined;
  },
);

/** RequestMirror `{backendRef, percent | fraction}` → a MirrorPolicy. */
export function requestMirror(context: ResourceContext): Reader<MirrorPolicy> {
  return object((f) => {
    const to = f.required('backendRef', backendRef(context, { filters: false }));
    const percentValue = f.optional('percent', integer(0, 100));
    const fraction = f.optional(
      'fraction',
      object((fr) => {
        const numerator = fr.required('numerator', integer(0, Number.MAX_SAFE_INTEGER));
        const denominator = fr.optional('denominator', integer(1, Number.MAX_SAFE_INTEGER)) ?? 100;
        if (numerator === undefined) return undefined;
        if (numerator > denominator) {
          fr.check.error(fr.at('numerator'), 'numerator must not exceed denominator');
          return undefined;
        }
        return (numerator * 100) / denominator;
      }),
    );
    if (f.has('percent') && f.has('fraction'))
      f.check.error(f.path, 'set either percent or fraction, not both');
    if (to === undefined) return undefined;
    const { host, port: mirrorPort } = to.destination;
    return defined<MirrorPolicy>({ host, port: mirrorPort, percentage: percentValue ?? fraction ?? 100 });
  });
}

/** Merges header operations (a route's filters may repeat a modifier only once, but be safe). */
export function mergeOperations(a: HeaderOperations | undefined, b: HeaderOperations): HeaderOperations {
  if (a === undefined) return b;
  return { set: { ...a.set, ...b.set }, add: { ...a.add, ...b.add }, remove: [...a.remove, ...b.remove] };
}
