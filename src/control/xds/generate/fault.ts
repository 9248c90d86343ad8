// Istio's fault mapping: the fault filter every sidecar HCM carries and the per-route HTTPFault of a VirtualService rule.
import type { FaultPolicy } from '../../../model/types.ts';
import type {
  FractionalPercent,
  HttpFault,
  HttpFilter,
  PerRouteFilterConfig,
} from '../../../xds/messages/index.ts';
import { CONFIG_TYPE } from '../../../xds/type-urls.ts';
import { duration } from './common.ts';

/** The HTTPFault type URL (envoy.extensions.filters.http.fault.v3). */
export const FAULT_TYPE = CONFIG_TYPE.fault;

/** The filter name Istio gives the fault filter; per-route configs are keyed by it. */
export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';

/**
 * The fault filter as Istio puts it in every sidecar HCM, before the router: an empty listener
 * config (faults nothing), so only routes with a per-route HTTPFault inject faults.
 */
export const FAULT_FILTER: HttpFilter = { name: FAULT_FILTER_NAME, typed_config: { '@type': FAULT_TYPE } };

/** gRPC status names (Istio's `abort.grpcStatus`) → codes (Envoy's `abort.grpc_status`). */
const GRPC_STATUS: Record<string, number> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** Istio's percentage (a double, 0..100) as an Envoy FractionalPercent over a million. */
function fractionalPercent(percentage: number): FractionalPercent {
  const clamped = Math.min(100, Math.max(0, percentage));
  return { numerator: Math.round(clamped * 10_000), denominator: 'MILLION' };
}

/** A VirtualService rule's `fault` as the per-route HTTPFault Istio generates. */
export function faultConfig(fault: FaultPolicy): PerRouteFilterConfig {
  const out: HttpFault = {};
  if (fault.delay) {
    out.delay = {
      fixed_delay: duration(fault.delay.fixedDelayMs),
      percentage: fractionalPercent(fault.delay.percentage),
    };
  }
  if (fault.abort) {
    const percentage = fractionalPercent(fault.abort.percentage);
    out.abort =
      fault.abort.grpcStatus !== undefined
        ? { percentage, grpc_status: GRPC_STATUS[fault.abort.grpcStatus] ?? 2 }
        : { percentage, http_status: fault.abort.httpStatus ?? 500 };
  }
  return { '@type': FAULT_TYPE, ...out };
}
