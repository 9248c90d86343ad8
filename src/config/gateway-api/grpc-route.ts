// Gateway API GRPCRoute → GatewayApiRouteModel: gRPC service/method matches become path matches on `/service/method`.
import type { GatewayApiRouteModel, StringMatch } from '../../model/types.ts';
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { regexError } from '../istio/string-match.ts';
import { readLinkerdRouteAnnotations, withLinkerdSettings } from '../linkerd/route-annotations.ts';
import type { Reader } from '../read.ts';
import { list, nonEmptyString, object, oneOf, readObject } from '../read.ts';
import type { BackendRefValue } from './common.ts';
import { backendRef, headerMatch, headerModifier, hostname, requestMirror, routeParents } from './common.ts';
import { type RuleFilters, type RuleMatch, ruleRoutes, URI_RANK } from './rules.ts';

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** gRPC names: `pkg.Service` and `Method` (no slashes, as the spec's pattern allows). */
const grpcName =
  (kind: 'service' | 'method'): Reader<string> =>
  (check, value, path) => {
    const text = nonEmptyString(check, value, path);
    if (text === undefined) return undefined;
    if (
      /^[A-Za-z_][A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)*$/.test(text) &&
      (kind === 'service' || !text.includes('.'))
    )
      return text;
    check.error(path, `"${text}" is not a gRPC ${kind} name`);
    return undefined;
  };

/** `method {type, service, method}` → the path match and its rank (Exact before RegularExpression, longer names first). */
const methodMatch: Reader<{ uri: StringMatch; rank: number[] }> = object((f) => {
  const type = f.optional('type', oneOf(['Exact', 'RegularExpression'])) ?? 'Exact';
  const regexText = (t: string) =>
    regexError(t) ?? (t.includes('/') ? `"${t}" must not contain /` : undefined);
  const service =
    type === 'Exact'
      ? f.optional('service', grpcName('service'))
      : f.optional('service', (c, v, p) => {
          const t = nonEmptyString(c, v, p);
          const e = t === undefined ? undefined : regexText(t);
          if (e) c.error(p, e);
          return e ? undefined : t;
        });
  const method =
    type === 'Exact'
      ? f.optional('method', grpcName('method'))
      : f.optional('method', (c, v, p) => {
          const t = nonEmptyString(c, v, p);
          const e = t === undefined ? undefined : regexText(t);
          if (e) c.error(p, e);
          return e ? undefined : t;
        });
  if (service === undefined && method === undefined) {
    f.check.error(f.path, 'a method match needs service or method (or both)', 'missing');
    return undefined;
  }
  const length = (service?.length ?? 0) + (method?.length ?? 0);
  if (type === 'RegularExpression')
    return {
      uri: { regex: `/${service ?? '[^/]+'}/${method ?? '[^/]+'}` },
      rank: [URI_RANK.regex, length, 0],
    };
  if (service !== undefined && method !== undefined)
    return { uri: { exact: `/${service}/${method}` }, rank: [URI_RANK.exact, length, 0] };
  if (service !== undefined) return { uri: { prefix: `/${service}/` }, rank: [URI_RANK.prefix, length, 0] };
  return { uri: { regex: `/[^/]+/${escapeRegex(method as string)}` }, rank: [URI_RANK.regex, length, 0] };
});

const grpcMatch: Reader<RuleMatch> = object((f) => {
  const method = f.optional('method', methodMatch);
  const headers = f.optional('headers', list(headerMatch)) ?? [];
  const base = method ?? { uri: { prefix: '/' }, rank: [URI_RANK.prefix, 0, 0] };
  return { uri: base.uri, headers, queryParams: [], rank: [...base.rank, headers.length, 0] };
});

type GrpcFilter =
  | { kind: 'request' | 'response'; ops: NonNullable<RuleFilters['requestHeaders']> }
  | { kind: 'mirror'; mirror: RuleFilters['mirrors'][number] };

const FILTERS = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestMirror: 'requestMirror',
  ExtensionRef: 'extensionRef',
} as const;

function grpcFilter(context: ResourceContext): Reader<GrpcFilter> {
  return object((f) => {
    const type = f.required('type', oneOf(Object.keys(FILTERS) as (keyof typeof FILTERS)[]));
    if (type === undefined) return undefined;
    const field = FILTERS[type];
    if (type === 'ExtensionRef') {
      f.optional(field, () => undefined);
      f.check.error(f.at('type'), 'filter ExtensionRef is not supported by weft', 'unsupported');
      return undefined;
    }
    if (!f.has(field)) {
      f.check.error(f.at(field), `filter type ${type} needs its ${field} field`, 'missing');
      return undefined;
    }
    if (type === 'RequestMirror') {
      const mirror = f.optional(field, requestMirror(context));
      return mirror && { kind: 'mirror', mirror };
    }
    const ops = f.optional(field, headerModifier);
    return ops && { kind: type === 'RequestHeaderModifier' ? 'request' : 'response', ops };
  });
}

function rule(context: ResourceContext): Reader<GatewayApiRouteModel['rules']> {
  return (check, value, path) =>
    readObject(
      check,
      value,
      path,
      (f) => {
        const index = path[path.length - 1];
        const name =
          f.optional('name', nonEmptyString) ??
          `${context.namespace}/${context.name}/rules[${String(index)}]`;
        const matches = f.optional('matches', list(grpcMatch)) ?? [];
        const filters: RuleFilters = { mirrors: [] };
        for (const item of f.optional('filters', list(grpcFilter(context))) ?? []) {
          if (item.kind === 'mirror') filters.mirrors.push(item.mirror);
          else if (item.kind === 'request') filters.requestHeaders = item.ops;
          else filters.responseHeaders = item.ops;
        }
        const backends: BackendRefValue[] =
          f.optional('backendRefs', list(backendRef(context, { filters: true }))) ?? [];
        const all: RuleMatch[] =
          matches.length === 0
            ? [{ uri: { prefix: '/' }, headers: [], queryParams: [], rank: [URI_RANK.prefix, 0, 0, 0, 0] }]
            : matches;
        return all.flatMap((m, i) => ruleRoutes({ name, backends, filters }, m, i));
      },
      { unsupported: { sessionPersistence: 'use a DestinationRule with consistentHash' } },
    );
}

/** Reads `spec` of a GRPCRoute named by `context`. */
export function readGrpcRoute(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): GatewayApiRouteModel | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const parents = routeParents(f, context);
    const hostnames = [...new Set(f.optional('hostnames', list(hostname)) ?? [])];
    const rules = (f.required('rules', list(rule(context), { nonEmpty: true })) ?? []).flat();
    const linkerd = readLinkerdRouteAnnotations(check, context.annotations);
    return {
      kind: 'GRPCRoute',
      name: context.name,
      namespace: context.namespace,
      parents,
      hostnames,
      rules: withLinkerdSettings(rules, linkerd),
    };
  });
}
