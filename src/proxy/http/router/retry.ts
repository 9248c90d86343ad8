// Envoy's retry_on conditions: which failures and answers a route's retry policy retries.
import type { RetryPolicy } from './route-table.ts';

/** gRPC status → the retry_on condition that covers it (a trailers-only answer with that status). */
const GRPC_RETRY_ON: Record<number, string> = {
  1: 'cancelled',
  4: 'deadline-exceeded',
  8: 'resource-exhausted',
  13: 'internal',
  14: 'unavailable',
};

/** Whether an answer (HTTP status, and grpc-status of a trailers-only answer) is retried. */
export function retriableAnswer(retry: RetryPolicy, status: number, grpcStatus?: string | string[]): boolean {
  // Most answers: a status below any the policy retries, no gRPC status.
  if (status < retry.lowestRetriedStatus && grpcStatus === undefined) return false;
  const on = retry.retryOn;
  if (on.has('5xx') && status >= 500) return true;
  if (on.has('gateway-error') && (status === 502 || status === 503 || status === 504)) return true;
  if (on.has('retriable-status-codes') && retry.retriableStatusCodes.includes(status)) return true;
  if (grpcStatus === undefined) return false;
  const name = GRPC_RETRY_ON[Number(grpcStatus)];
  return name !== undefined && on.has(name);
}

/** A connection that could not be made (refused, timed out). */
export function retriesConnectFailure(retry: RetryPolicy): boolean {
  const on = retry.retryOn;
  return on.has('connect-failure') || on.has('5xx') || on.has('gateway-error') || on.has('reset');
}

/** A connection or stream reset before any answer (`refused` for HTTP/2 REFUSED_STREAM). */
export function retriesReset(retry: RetryPolicy, refused = false): boolean {
  const on = retry.retryOn;
  return on.has('reset') || on.has('5xx') || on.has('gateway-error') || (refused && on.has('refused-stream'));
}

/** An attempt that outlived retry_policy.per_try_timeout (counts as a 504). */
export function retriesTimeout(retry: RetryPolicy): boolean {
  const on = retry.retryOn;
  return on.has('5xx') || on.has('gateway-error') || on.has('reset');
}
