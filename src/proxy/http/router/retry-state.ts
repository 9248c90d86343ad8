// One request's retry state: attempts left, the cluster retry slot it holds, the back-off between attempts.
import type { Cluster } from '../../cluster/cluster.ts';
import { admitRetry, backOffMs, releaseRetry } from '../../cluster/retry-admission.ts';
import type { RetryPolicy } from './route-table.ts';

export class RetryState {
  /** The route's (else the virtual host's) retry policy; undefined: no retries. */
  policy: RetryPolicy | undefined;
  /** Retries this request may still make. */
  left = 0;
  /** The cluster whose retry slot (max_retries / retry budget) this request holds. */
  private slot: Cluster | null = null;

  start(policy: RetryPolicy | undefined): void {
    this.policy = policy;
    this.left = policy ? policy.numRetries : 0;
  }

  /**
   * Whether to retry after a failure the policy covers (`covered`): attempts left, and the cluster
   * admits one more retry (counting upstream_rq_retry_overflow when it does not). An admitted
   * retry holds its slot until the retried attempt answers or fails.
   */
  admit(cluster: Cluster, covered: boolean): boolean {
    if (this.policy === undefined || this.left <= 0 || !covered) return false;
    if (admitRetry(cluster) !== 'admitted') return false;
    this.slot = cluster;
    return true;
  }

  /** Gives back the retry slot held for the attempt that just ended. */
  free(): void {
    if (this.slot !== null) releaseRetry(this.slot);
    this.slot = null;
  }

  /** Every retry was used: a failure now is reported as URX. */
  get exhausted(): boolean {
    return this.policy !== undefined && this.policy.numRetries > 0 && this.left === 0;
  }

  /** Uses one retry; returns the jittered exponential back-off to wait before it (Envoy's retry_back_off). */
  take(): number {
    this.left--;
    const p = this.policy;
    return p ? backOffMs(p.backOff, p.numRetries - this.left) : 0;
  }
}
