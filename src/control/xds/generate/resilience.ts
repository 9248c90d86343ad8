// Istio's fault injection mapping: the HCM's envoy.filters.http.fault filter and per-route HTTPFault configs.
import type { FaultPolicy } from '../../../model/types.ts';
import { duration } from './common.ts';

type Obj = Record<string, unknown>;

/** The HTTPFault type URL (envoy.extensions.filters.http.fault.v3). */
export const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

/** The filter name Istio gives the fault filter; per-route configs are keyed by it. */
export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';

/**
 * The fault filter as Istio puts it in every sidecar HCM, before the router: an empty listener
 * config (faults nothing), so only routes with a per-route HTTPFault inject faults.
 */
export const FAULT_FILTER = { name: FAULT_FILTER_NAME, typed_config: { '@type': FAULT_TYPE } } as const;

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
function fractionalPercent(percentage: number): Obj {
  const clamped = Math.min(100, Math.max(0, percentage));
  return { numerator: Math.round(clamped * 10_000), denominator: 'MILLION' };
}

/** A VirtualService rule's `fault` as the per-route HTTPFault Istio generates. */
export function faultConfig(fault: FaultPolicy): Obj {
  const out: Obj = { '@type': FAULT_TYPE };
  if (fault.delay) {
    out.delay = {
      fixed_delay: duration(fault.delay.fixedDelayMs),
      percentage: fractionalPercent(fault.delay.percentage),
    };
  }
  if (fault.abort) {
    const abort: Obj = { percentage: fractionalPercent(fault.abort.percentage) };
    if (fault.abort.grpcStatus !== undefined) abort.grpc_status = GRPC_STATUS[fault.abort.grpcStatus] ?? 2;
    else abort.http_status = fault.abort.httpStatus ?? 500;
    out.abort = abort;
  }
  return out;
}
