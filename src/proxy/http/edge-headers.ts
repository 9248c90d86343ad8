// What an HCM with use_remote_address does to a request's headers (Envoy's header sanitizing at the edge).
import type { HcmConfig } from './connection-manager-config.ts';
import type { RequestHead } from './request-head.ts';

/** Headers only an internal client may set: an external request loses them (Envoy's list). */
const INTERNAL_ONLY = [
  'x-envoy-decorator-operation',
  'x-envoy-downstream-service-cluster',
  'x-envoy-downstream-service-node',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-external-address',
  'x-envoy-force-trace',
  'x-envoy-ip-tags',
  'x-envoy-max-retries',
  'x-envoy-retry-grpc-on',
  'x-envoy-retry-on',
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-upstream-rq-timeout-ms',
];

/**
 * The peer is the client (use_remote_address): x-forwarded-for gets its address appended (unless
 * skip_xff_append), `x-envoy-internal: true` marks a client inside `internal_address_config`, and
 * an external client's internal-only headers are dropped, its address given in
 * `x-envoy-external-address`, and its x-request-id dropped (a new one is generated) unless
 * preserve_external_request_id.
 */
export function applyEdgeHeaders(head: RequestHead, cfg: HcmConfig): void {
  const address = head.remoteAddress;
  const internal = cfg.isInternal(address);
  head.remove('x-envoy-internal');
  if (internal) head.headers.push('x-envoy-internal', 'true');
  else {
    for (const name of INTERNAL_ONLY) head.remove(name);
    head.headers.push('x-envoy-external-address', address);
    if (!cfg.preserveExternalRequestId && cfg.generateRequestId) head.remove('x-request-id');
  }
  if (!cfg.skipXffAppend) {
    const prior = head.getAll('x-forwarded-for');
    head.set('x-forwarded-for', prior === undefined ? address : `${prior}, ${address}`);
  }
}
