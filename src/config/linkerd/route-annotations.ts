// Linkerd's retry.linkerd.io/* and timeout.linkerd.io/* annotations on HTTPRoutes and GRPCRoutes → route retries and timeouts.
import type { HttpRoute, RetryPolicy } from '../../model/types.ts';
import type { Check, FieldPath } from '../check.ts';
import { parseDuration } from '../duration.ts';

const HTTP_CONDITIONS = new Set(['5xx', 'gateway-error']);
const GRPC_CONDITIONS = new Set([
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

/** What the annotations of one route ask for. */
export interface LinkerdRouteSettings {
  retries?: RetryPolicy;
  /** `timeout.linkerd.io/request`: the whole request, retries included. */
  timeoutMs?: number;
}

function at(key: string): FieldPath {
  return ['metadata', 'annotations', key];
}

function durationOf(check: Check, key: string, text: string): number | undefined {
  const parsed = parseDuration(text);
  if ('error' in parsed) {
    check.error(at(key), parsed.error);
    return undefined;
  }
  return parsed.ms === 0 ? undefined : parsed.ms;
}

/** `retry.linkerd.io/http`: `5xx`, `gateway-error`, status codes and ranges (`500-504`). */
function httpConditions(
  check: Check,
  key: string,
  text: string,
): Pick<RetryPolicy, 'retryOn' | 'retriableStatusCodes'> {
  const retryOn: string[] = [];
  const codes: number[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim().toLowerCase();
    const range = /^(\d{3})(?:-(\d{3}))?$/.exec(entry);
    if (HTTP_CONDITIONS.has(entry)) retryOn.push(entry);
    else if (range && Number(range[1]) >= 100 && Number(range[2] ?? range[1]) <= 599) {
      for (let code = Number(range[1]); code <= Number(range[2] ?? range[1]); code++) codes.push(code);
    } else if (entry !== '')
      check.error(
        at(key),
        `"${raw.trim()}" is not a retry condition; write 5xx, gateway-error, a status code or a range like 500-504`,
      );
  }
  if (codes.length > 0) retryOn.push('retriable-status-codes');
  return { retryOn, retriableStatusCodes: codes };
}

/** `retry.linkerd.io/grpc`: gRPC status names (`unavailable,deadline-exceeded`). */
function grpcConditions(check: Check, key: string, text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (GRPC_CONDITIONS.has(entry)) out.push(entry);
    else if (entry !== '')
      check.error(
        at(key),
        `"${raw.trim()}" is not a gRPC retry condition; use ${[...GRPC_CONDITIONS].join(', ')}`,
      );
  }
  return out;
}

/**
 * Reads Linkerd's route annotations. Retries are on when `retry.linkerd.io/http` or `/grpc` names
 * conditions; `limit` is the most retries per request (Linkerd's default 1), `timeout` bounds each
 * try. `timeout.linkerd.io/request` bounds the whole request; `response` and `idle` are warned
 * about as not supported by weft.
 */
export function readLinkerdRouteAnnotations(
  check: Check,
  annotations: Readonly<Record<string, string>> | undefined,
): LinkerdRouteSettings {
  const get = (key: string) => annotations?.[key];
  const out: LinkerdRouteSettings = {};
  for (const key of Object.keys(annotations ?? {})) {
    if (!key.startsWith('retry.linkerd.io/') && !key.startsWith('timeout.linkerd.io/')) continue;
    if (
      ![
        'retry.linkerd.io/http',
        'retry.linkerd.io/grpc',
        'retry.linkerd.io/limit',
        'retry.linkerd.io/timeout',
        'timeout.linkerd.io/request',
      ].includes(key)
    )
      check.warn(
        at(key),
        key.startsWith('timeout.linkerd.io/')
          ? `ignored: not supported by weft; use timeout.linkerd.io/request (or the rule's timeouts.request)`
          : 'ignored: not a Linkerd retry annotation weft knows',
      );
  }
  const http = get('retry.linkerd.io/http');
  const grpc = get('retry.linkerd.io/grpc');
  const limitText = get('retry.linkerd.io/limit');
  const tryText = get('retry.linkerd.io/timeout');
  const limit = limitText === undefined ? 1 : Number(limitText);
  if (limitText !== undefined && !(Number.isInteger(limit) && limit >= 0 && limit <= 100))
    check.error(
      at('retry.linkerd.io/limit'),
      `must be a whole number of retries (0-100), got "${limitText}"`,
    );
  const perTryTimeoutMs =
    tryText === undefined ? undefined : durationOf(check, 'retry.linkerd.io/timeout', tryText);
  if (http !== undefined || grpc !== undefined) {
    const h =
      http === undefined
        ? { retryOn: [], retriableStatusCodes: [] }
        : httpConditions(check, 'retry.linkerd.io/http', http);
    const g = grpc === undefined ? [] : grpcConditions(check, 'retry.linkerd.io/grpc', grpc);
    out.retries = {
      attempts: Number.isInteger(limit) ? limit : 1,
      retryOn: [...h.retryOn, ...g],
      retriableStatusCodes: h.retriableStatusCodes,
      ...(perTryTimeoutMs === undefined ? {} : { perTryTimeoutMs }),
    };
  } else if (limitText !== undefined || tryText !== undefined) {
    check.warn(
      at(limitText !== undefined ? 'retry.linkerd.io/limit' : 'retry.linkerd.io/timeout'),
      'ignored: retries are on only when retry.linkerd.io/http or retry.linkerd.io/grpc names the conditions',
    );
  }
  const request = get('timeout.linkerd.io/request');
  if (request !== undefined) {
    const ms = durationOf(check, 'timeout.linkerd.io/request', request);
    if (ms !== undefined) out.timeoutMs = ms;
  }
  return out;
}

/** Applies the annotations to a route's rules that forward to backends; a rule's own timeouts win. */
export function withLinkerdSettings<T extends { route: HttpRoute }>(
  rules: T[],
  settings: LinkerdRouteSettings,
): T[] {
  if (settings.retries === undefined && settings.timeoutMs === undefined) return rules;
  return rules.map((rule) => {
    if (rule.route.route === undefined) return rule;
    const route: HttpRoute = { ...rule.route };
    if (settings.retries !== undefined && route.retries === undefined) route.retries = settings.retries;
    if (settings.timeoutMs !== undefined && route.timeoutMs === undefined)
      route.timeoutMs = settings.timeoutMs;
    return { ...rule, route };
  });
}
