// VirtualService `http[]` entries: matches, weighted destinations, redirects, retries, faults, mirrors.
import type {
  FaultPolicy,
  HeaderMatch,
  HttpMatch,
  HttpRoute,
  MirrorPolicy,
  QueryParamMatch,
  RetryPolicy,
} from '../../model/types.ts';
import { labels } from '../names.ts';
import type { Fields, Reader } from '../read.ts';
import {
  boolean,
  count,
  defined,
  describe,
  duration,
  integer,
  isPlainObject,
  list,
  nonEmptyString,
  object,
  oneOf,
  port,
  readObject,
  string,
  stringList,
  stringWith,
} from '../read.ts';
import type { ResourceContext } from './common.ts';
import { destination, headers, percent } from './common.ts';
import { corsPolicy } from './cors-policy.ts';
import { gatewayNames, weightedRoutes } from './routing.ts';
import { readStringMatch, regexError, stringMatch } from './string-match.ts';

/** Envoy's retry_on conditions that Istio accepts in `retries.retryOn`. */
export const RETRY_ON = [
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'envoy-ratelimited',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
] as const;

/** Istio's retry conditions when `retries` sets no `retryOn` (pilot's default retry policy). */
export const DEFAULT_RETRY_ON = [
  'connect-failure',
  'refused-stream',
  'unavailable',
  'cancelled',
  'retriable-status-codes',
];
/** The status codes of that default (`retriable-status-codes`). */
export const DEFAULT_RETRIABLE_STATUS_CODES = [503];

const GRPC_CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/** `headers`/`withoutHeaders`: header name (lower case, as Istio requires) → StringMatch or `{}` (present). */
function headerMatches(invert: boolean): Reader<HeaderMatch[]> {
  return (check, value, path) => {
    if (!isPlainObject(value)) {
      check.error(path, `must be a map of header name to match, got ${describe(value)}`);
      return undefined;
    }
    const out: HeaderMatch[] = [];
    for (const [name, raw] of Object.entries(value)) {
      if (name !== name.toLowerCase()) {
        check.error([...path, name], `header names must be lower case ("${name.toLowerCase()}")`);
        continue;
      }
      const match = readStringMatch(check, raw, [...path, name], { allowEmpty: true });
      if (match === undefined) continue;
      out.push(match === null ? { name, invert } : { name, match, invert });
    }
    return out;
  };
}

const queryParamMatches: Reader<QueryParamMatch[]> = (check, value, path) => {
  if (!isPlainObject(value)) {
    check.error(path, `must be a map of parameter name to match, got ${describe(value)}`);
    return undefined;
  }
  const out: QueryParamMatch[] = [];
  for (const [name, raw] of Object.entries(value)) {
    const match = readStringMatch(check, raw, [...path, name], { allowEmpty: true, allowPrefix: false });
    if (match === undefined) continue;
    out.push(match === null ? { name } : { name, match });
  }
  return out;
};

function httpMatch(context: ResourceContext): Reader<HttpMatch> {
  return object(
    (f) =>
      defined<HttpMatch>({
        name: f.optional('name', string),
        uri: f.optional('uri', stringMatch),
        ignoreUriCase: f.optional('ignoreUriCase', boolean) ?? false,
        method: f.optional('method', stringMatch),
        authority: f.optional('authority', stringMatch),
        scheme: f.optional('scheme', stringMatch),
        headers: [
          ...(f.optional('headers', headerMatches(false)) ?? []),
          ...(f.optional('withoutHeaders', headerMatches(true)) ?? []),
        ],
        queryParams: f.optional('queryParams', queryParamMatches) ?? [],
        port: f.optional('port', port),
        sourceLabels: f.optional('sourceLabels', labels),
        sourceNamespace: f.optional('sourceNamespace', nonEmptyString),
        gateways: f.optional('gateways', gatewayNames(context)),
      }),
    {
      unsupported: {
        statPrefix: 'per-route stat prefixes are not implemented',
      },
    },
  );
}

/** `retryOn`: Istio's comma-separated string; weft also reads a YAML list (with a warning). */
const retryConditions: Reader<Pick<RetryPolicy, 'retryOn' | 'retriableStatusCodes'>> = (
  check,
  value,
  path,
) => {
  let entries: string[] | undefined;
  if (Array.isArray(value)) {
    entries = stringList(check, value, path);
    if (entries !== undefined)
      check.warn(path, 'Istio writes retryOn as one comma-separated string; read the list as that');
  } else {
    const text = string(check, value, path);
    entries = text?.split(',');
  }
  if (entries === undefined) return undefined;
  const retryOn: string[] = [];
  const codes: number[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === '') continue;
    if (/^\d+$/.test(entry)) {
      const code = Number(entry);
      if (code < 100 || code > 599)
        check.error(path, `retry status code ${entry} is not an HTTP status (100-599)`);
      else if (!codes.includes(code)) codes.push(code);
    } else if ((RETRY_ON as readonly string[]).includes(entry)) {
      if (!retryOn.includes(entry)) retryOn.push(entry);
    } else {
      check.error(path, `"${entry}" is not a retry condition; use status codes or: ${RETRY_ON.join(', ')}`);
    }
  }
  if (codes.length > 0 && !retryOn.includes('retriable-status-codes')) retryOn.push('retriable-status-codes');
  return { retryOn, retriableStatusCodes: codes };
};

const retries: Reader<RetryPolicy> = object(
  (f) => {
    const conditions = f.optional('retryOn', retryConditions);
    f.ignored(
      'retryRemoteLocalities',
      'weft does not do locality-aware load balancing yet, so retries may go to any locality',
    );
    return defined<RetryPolicy>({
      attempts: f.optional('attempts', count) ?? 0,
      perTryTimeoutMs: f.optional('perTryTimeout', duration()),
      retryOn: conditions?.retryOn ?? [...DEFAULT_RETRY_ON],
      retriableStatusCodes: conditions?.retriableStatusCodes ?? [...DEFAULT_RETRIABLE_STATUS_CODES],
      backoffMs: f.optional('backoff', duration()),
    });
  },
  { unsupported: { retryIgnorePreviousHosts: 'retries may go to the same endpoint again' } },
);

/** Fault `percentage` (or the deprecated integer `percent`); unset means 0%, as in Istio. */
function faultPercentage(f: Fields, what: string): number {
  const percentage = f.optional('percentage', percent);
  const legacy = f.optional('percent', integer(0, 100));
  if (f.has('percent')) {
    if (f.has('percentage')) f.check.error(f.at('percent'), 'set either percentage or percent, not both');
    else f.check.warn(f.at('percent'), 'percent is deprecated in Istio; use percentage.value');
  } else if (!f.has('percentage')) {
    f.check.warn(
      f.path,
      `percentage is not set, so no request is ${what} (as in Istio); set percentage.value: 100 for every request`,
    );
  }
  return percentage ?? legacy ?? 0;
}

const fault: Reader<FaultPolicy> = object((f) => {
  const delay = f.optional(
    'delay',
    object(
      (d) => ({
        fixedDelayMs: d.required('fixedDelay', duration()) ?? 0,
        percentage: faultPercentage(d, 'delayed'),
      }),
      { unsupported: { exponentialDelay: 'use fixedDelay' } },
    ),
  );
  const abort = f.optional(
    'abort',
    object(
      (a) => {
        const value = defined<NonNullable<FaultPolicy['abort']>>({
          httpStatus: a.optional('httpStatus', integer(200, 599)),
          grpcStatus: a.optional('grpcStatus', oneOf(GRPC_CODES)),
          percentage: faultPercentage(a, 'aborted'),
        });
        if (a.has('httpStatus') && a.has('grpcStatus'))
          a.check.error(a.path, 'set either httpStatus or grpcStatus, not both');
        else if (!a.has('httpStatus') && !a.has('grpcStatus') && !a.has('http2Error'))
          a.check.error(a.at('httpStatus'), 'an abort needs httpStatus or grpcStatus', 'missing');
        return value;
      },
      { unsupported: { http2Error: 'abort with httpStatus or grpcStatus instead' } },
    ),
  );
  if (!f.has('delay') && !f.has('abort')) f.check.error(f.path, 'a fault needs delay or abort', 'missing');
  return defined<FaultPolicy>({ delay, abort });
});

/** Istio's deprecated integer `mirrorPercent`, read when `mirrorPercentage` is not set. */
function legacyMirrorPercent(f: Fields): number | undefined {
  const legacy = f.optional('mirrorPercent', integer(0, 100));
  if (!f.has('mirrorPercent')) return undefined;
  if (f.has('mirrorPercentage')) {
    f.check.error(f.at('mirrorPercent'), 'set either mirrorPercentage or mirrorPercent, not both');
    return undefined;
  }
  f.check.warn(f.at('mirrorPercent'), 'deprecated in Istio; use mirrorPercentage.value');
  return legacy;
}

/** `mirror` (+ `mirrorPercentage`) or `mirrors[]`, as one list; an unset percentage is 100. */
function mirrors(f: Fields, context: ResourceContext): MirrorPolicy[] {
  const single = f.optional('mirror', destination(context));
  const legacyPercentage = legacyMirrorPercent(f);
  const singlePercentage = f.optional('mirrorPercentage', percent) ?? legacyPercentage;
  const mirror = object((m): MirrorPolicy | undefined => {
    const to = m.required('destination', destination(context));
    const percentage = m.optional('percentage', percent) ?? 100;
    return to === undefined ? undefined : { ...to, percentage };
  });
  const many = f.optional('mirrors', list(mirror)) ?? [];
  for (const key of ['mirrorPercentage', 'mirrorPercent'])
    if (f.has(key) && !f.has('mirror')) f.check.error(f.at(key), `${key} needs mirror`);
  if (f.has('mirror') && f.has('mirrors'))
    f.check.error(f.at('mirrors'), 'set either mirror or mirrors, not both');
  return single === undefined ? many : [{ ...single, percentage: singlePercentage ?? 100 }, ...many];
}

const REDIRECT_CODES = [301, 302, 303, 307, 308];

const redirectCode: Reader<number> = (check, value, path) => {
  if (typeof value === 'number' && REDIRECT_CODES.includes(value)) return value;
  check.error(path, `must be one of ${REDIRECT_CODES.join(', ')}, got ${describe(value)}`);
  return undefined;
};

const redirect: Reader<NonNullable<HttpRoute['redirect']>> = object(
  (f) =>
    defined<NonNullable<HttpRoute['redirect']>>({
      uri: f.optional('uri', nonEmptyString),
      authority: f.optional('authority', nonEmptyString),
      scheme: f.optional('scheme', nonEmptyString),
      port: f.optional('port', port),
      redirectCode: f.optional('redirectCode', redirectCode) ?? 301,
    }),
  {
    unsupported: {
      derivePort: 'set port explicitly',
      prefixRewrite: 'redirect to a full uri instead',
    },
  },
);

const directResponse: Reader<NonNullable<HttpRoute['directResponse']>> = object((f) =>
  defined<NonNullable<HttpRoute['directResponse']>>({
    status: f.required('status', integer(200, 599)),
    body: f.optional(
      'body',
      object((b) => b.optional('string', string), { unsupported: { bytes: 'give the body as body.string' } }),
    ),
  }),
);

const regex = stringWith((text) => (text === '' ? 'must not be empty' : regexError(text)));

const rewrite: Reader<NonNullable<HttpRoute['rewrite']>> = object((f) => {
  if (f.has('uri') && f.has('uriRegexRewrite'))
    f.check.error(f.path, 'set either uri or uriRegexRewrite, not both');
  return defined<NonNullable<HttpRoute['rewrite']>>({
    uri: f.optional('uri', string),
    uriRegex: f.optional(
      'uriRegexRewrite',
      object((r) => defined({ match: r.required('match', regex), rewrite: r.required('rewrite', string) })),
    ),
    authority: f.optional('authority', nonEmptyString),
  });
});

/** Reads one `http[]` entry of VirtualService `context.name`; an unnamed route is named by its position. */
export function httpRoute(context: ResourceContext): Reader<HttpRoute> {
  return (check, value, path) =>
    readObject(
      check,
      value,
      path,
      (f) => {
        const index = path[path.length - 1];
        const route = defined<HttpRoute>({
          name:
            f.optional('name', nonEmptyString) ??
            `${context.namespace}/${context.name}/http[${String(index)}]`,
          matches: f.optional('match', list(httpMatch(context))) ?? [],
          route: f.optional('route', weightedRoutes(context, { headers: true })),
          redirect: f.optional('redirect', redirect),
          directResponse: f.optional('directResponse', directResponse),
          rewrite: f.optional('rewrite', rewrite),
          timeoutMs: f.optional('timeout', duration(0)),
          retries: f.aliased('retries', 'retry', 'Istio names this field "retries"', retries),
          fault: f.optional('fault', fault),
          mirrors: mirrors(f, context),
          headers: f.optional('headers', headers),
          cors: f.optional('corsPolicy', corsPolicy),
        });
        const actions = (['route', 'redirect', 'directResponse'] as const).filter((key) => f.has(key));
        // A delegating route (not supported, reported as such) has no action of its own.
        if (actions.length === 0 && !f.has('delegate'))
          check.error(
            f.at('route'),
            'an http route needs one of route, redirect or directResponse',
            'missing',
          );
        if (actions.length > 1)
          check.error(
            f.path,
            `set only one of route, redirect and directResponse, not ${actions.join(' and ')}`,
          );
        if (f.has('rewrite') && f.has('redirect'))
          check.error(f.at('rewrite'), 'rewrite cannot be combined with redirect');
        return route;
      },
      {
        unsupported: {
          delegate: 'VirtualService delegation is not implemented',
          mirror_percent: 'write mirrorPercentage (or the deprecated mirrorPercent)',
        },
      },
    );
}
