// envoy.filters.http.fault config (HTTPFault): delays and aborts, parsed once (listener or per route).
import {
  checkFields,
  durationMs,
  list,
  type Msg,
  msg,
  num,
  str,
  unsupported,
  wrappedNum,
} from '../../../common/fields.ts';
import { compileHeaderMatcher, type HeaderMatcher } from '../../router/matchers.ts';

export const FAULT_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

/** A compiled HTTPFault. */
export interface FaultConfig {
  delay?: {
    /** Fixed delay in ms; with `fromHeader`, the request's `x-envoy-fault-delay-request` decides. */
    fixedDelayMs: number;
    fromHeader: boolean;
    /** Share of requests delayed, 0..1. */
    percentage: number;
  };
  abort?: {
    httpStatus?: number;
    grpcStatus?: number;
    /** The request's `x-envoy-fault-abort-request` (or `-grpc-request`) decides. */
    fromHeader: boolean;
    percentage: number;
  };
  /** Only requests matching all of these are faulted. */
  headers: HeaderMatcher[];
  /** Only requests routed to this cluster (empty: all). */
  upstreamCluster: string;
  /** At most this many requests faulted at once (undefined: no limit). */
  maxActiveFaults?: number;
}

const DENOMINATOR: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/** A FractionalPercent as a share 0..1 (Envoy's default for a missing percentage is 100%). */
function fraction(value: unknown, where: string): number {
  const p = msg(value);
  if (!p) return 1;
  checkFields(p, where, ['numerator', 'denominator']);
  const d = DENOMINATOR[str(p.denominator) || 'HUNDRED'];
  if (d === undefined) unsupported(where, `denominator ${str(p.denominator)}`);
  return Math.min(1, num(p.numerator) / d);
}

export function compileFault(c: Msg, where: string): FaultConfig {
  checkFields(c, where, [
    'delay',
    'abort',
    'upstreamCluster',
    'headers',
    'maxActiveFaults',
    'delayPercentRuntime',
    'abortPercentRuntime',
    'delayDurationRuntime',
    'abortHttpStatusRuntime',
    'maxActiveFaultsRuntime',
    'abortGrpcStatusRuntime',
    'disableDownstreamClusterStats',
    'filterMetadata',
  ]);
  if (list(c.downstreamNodes).length > 0) unsupported(where, 'downstream_nodes');
  if (msg(c.responseRateLimit)) unsupported(where, 'response_rate_limit');
  const out: FaultConfig = {
    headers: list(c.headers).map((h, i) => compileHeaderMatcher(h, `${where}.headers[${i}]`)),
    upstreamCluster: str(c.upstreamCluster),
    maxActiveFaults:
      c.maxActiveFaults === undefined || c.maxActiveFaults === null
        ? undefined
        : wrappedNum(c.maxActiveFaults, 0),
  };
  const d = msg(c.delay);
  if (d) {
    const w = `${where}.delay`;
    checkFields(d, w, ['fixedDelay', 'headerDelay', 'percentage']);
    out.delay = {
      fixedDelayMs: durationMs(d.fixedDelay, 0),
      fromHeader: msg(d.headerDelay) !== undefined,
      percentage: fraction(d.percentage, `${w}.percentage`),
    };
  }
  const a = msg(c.abort);
  if (a) {
    const w = `${where}.abort`;
    checkFields(a, w, ['httpStatus', 'grpcStatus', 'headerAbort', 'percentage']);
    const httpStatus = num(a.httpStatus) || undefined;
    const grpcStatus = a.grpcStatus === undefined || a.grpcStatus === null ? undefined : num(a.grpcStatus);
    const fromHeader = msg(a.headerAbort) !== undefined;
    if (httpStatus === undefined && grpcStatus === undefined && !fromHeader)
      unsupported(w, 'an abort without http_status, grpc_status or header_abort');
    if (httpStatus !== undefined && (httpStatus < 200 || httpStatus >= 600))
      unsupported(w, `http_status ${httpStatus}`);
    out.abort = { httpStatus, grpcStatus, fromHeader, percentage: fraction(a.percentage, `${w}.percentage`) };
  }
  return out;
}
