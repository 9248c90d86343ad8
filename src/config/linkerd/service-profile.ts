// Linkerd ServiceProfile (linkerd.io/v1alpha2): routes (conditions, isRetryable, timeout, failure classes) and a retry budget.
import type {
  HttpMatch,
  HttpRoute,
  RetryRatioBudget,
  ServiceProfileModel,
  VirtualServiceModel,
} from '../../model/types.ts';
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { regexError } from '../istio/string-match.ts';
import type { Fields, Reader } from '../read.ts';
import { boolean, duration, integer, list, nonEmptyString, numberIn, object, readObject } from '../read.ts';

/** Retries a retryable route may make per request; Linkerd bounds them by the budget only. */
export const SERVICE_PROFILE_ATTEMPTS = 3;

/** A request condition: the ANDed conditions of one match, or several matches ORed (`any`). */
type Condition = Pick<HttpMatch, 'method' | 'uri'>[];

function conditionFields(f: Fields): Condition | undefined {
  const method = f.optional('method', nonEmptyString);
  const pathRegex = f.optional('pathRegex', (check, value, path) => {
    const text = nonEmptyString(check, value, path);
    if (text === undefined) return undefined;
    const problem = regexError(text);
    if (problem) check.error(path, problem);
    return problem ? undefined : text;
  });
  const all = f.optional('all', list(condition));
  const any = f.optional('any', list(condition));
  if (f.has('not')) f.check.error(f.at('not'), 'negated conditions are not supported by weft', 'unsupported');
  const own: Pick<HttpMatch, 'method' | 'uri'> = {
    ...(method === undefined ? {} : { method: { exact: method.toUpperCase() } }),
    // Linkerd anchors pathRegex at both ends, as Envoy's safe_regex does.
    ...(pathRegex === undefined ? {} : { uri: { regex: pathRegex } }),
  };
  // `all`: every sub-condition; each may itself be an OR, so the result is their cross product.
  let matches: Condition = [own];
  for (const sub of all ?? []) {
    const next: Condition = [];
    for (const m of matches)
      for (const s of sub) {
        if ((m.method && s.method) || (m.uri && s.uri)) {
          f.check.error(
            f.at('all'),
            'two method or two pathRegex conditions in one `all` cannot be combined',
          );
          return undefined;
        }
        next.push({ ...m, ...s });
      }
    matches = next;
  }
  if (any !== undefined) {
    const ored = any.flat();
    if (method !== undefined || pathRegex !== undefined || all !== undefined) {
      f.check.error(f.at('any'), 'put `any` alone in its condition (wrap the others in `all`)');
      return undefined;
    }
    return ored;
  }
  return matches;
}

const condition: Reader<Condition> = object(conditionFields);

/** responseClasses[]: the statuses counted as failures (Linkerd's default: 5xx). */
const responseClass: Reader<number[]> = object((f) => {
  const isFailure = f.optional('isFailure', boolean) ?? false;
  const range = f.required(
    'condition',
    object((c) => {
      if (c.has('all') || c.has('any') || c.has('not'))
        c.check.error(c.path, 'only `status: {min, max}` response conditions are supported', 'unsupported');
      return c.required(
        'status',
        object((s) => ({
          min: s.optional('min', integer(100, 599)) ?? 100,
          max: s.optional('max', integer(100, 599)) ?? 599,
        })),
      );
    }),
  );
  if (!isFailure || !range) return [];
  const codes: number[] = [];
  for (let code = range.min; code <= range.max; code++) codes.push(code);
  return codes;
});

const retryBudget: Reader<RetryRatioBudget> = object((f) => ({
  retryRatio: f.required('retryRatio', numberIn(0, 1000)) ?? 0.2,
  minRetriesPerSecond: f.required('minRetriesPerSecond', integer(0, 1_000_000)) ?? 10,
  ttlMs: f.required('ttl', duration()) ?? 10_000,
}));

/** Reads `spec` of a ServiceProfile; its name is the service's fully qualified hostname. */
export function readServiceProfile(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): ServiceProfileModel | undefined {
  const host = context.name.toLowerCase();
  return readObject(check, spec, ['spec'], (f) => {
    const routes =
      f.optional(
        'routes',
        list(
          object((r) => {
            const name = r.required('name', nonEmptyString) ?? '';
            const matches = r.required('condition', condition);
            const retryable = r.optional('isRetryable', boolean) ?? false;
            const timeoutMs = r.optional('timeout', duration());
            const failures = (r.optional('responseClasses', list(responseClass)) ?? []).flat();
            if (matches === undefined) return undefined;
            const route: HttpRoute = {
              name,
              matches: matches.map((m) => ({ ignoreUriCase: false, headers: [], queryParams: [], ...m })),
              route: [{ host, weight: 100 }],
              mirrors: [],
              ...(timeoutMs === undefined ? {} : { timeoutMs }),
              retries: retryable
                ? {
                    attempts: SERVICE_PROFILE_ATTEMPTS,
                    retryOn:
                      failures.length > 0 ? ['retriable-status-codes', 'connect-failure', 'reset'] : ['5xx'],
                    retriableStatusCodes: failures,
                  }
                : { attempts: 0, retryOn: [], retriableStatusCodes: [] },
            };
            return route;
          }),
        ),
      ) ?? [];
    const budget = f.optional('retryBudget', retryBudget);
    f.ignored('dstOverrides', 'traffic splits belong in a VirtualService or an SMI TrafficSplit');
    f.ignored('opaquePorts', 'declare opaque ports with the service port protocol (TCP)');
    // Requests no route matches still reach the service, without retries (Linkerd's default route).
    const http: HttpRoute[] = [
      ...routes,
      {
        name: 'default',
        matches: [],
        route: [{ host, weight: 100 }],
        mirrors: [],
        retries: { attempts: 0, retryOn: [], retriableStatusCodes: [] },
      },
    ];
    const virtualService: VirtualServiceModel = {
      name: `serviceprofile-${context.name}`,
      namespace: context.namespace,
      hosts: [host],
      gateways: ['mesh'],
      http,
      tcp: [],
      exportTo: ['*'],
    };
    return {
      name: context.name,
      namespace: context.namespace,
      host,
      virtualService,
      ...(budget === undefined ? {} : { retryBudget: budget }),
    };
  });
}
