// Per-cluster counters, named after Envoy's cluster statistics (exported on /stats/prometheus).

export class ClusterStats {
  /** upstream_rq_total */
  rqTotal = 0;
  /** upstream_rq_active */
  rqActive = 0;
  /** Responses by class: upstream_rq_2xx ... upstream_rq_5xx (index 1..5). */
  readonly rqByClass = [0, 0, 0, 0, 0, 0];
  /** upstream_rq_timeout */
  rqTimeout = 0;
  /** upstream_rq_retry */
  rqRetry = 0;
  /** upstream_rq_pending_overflow */
  rqOverflow = 0;
  /** upstream_rq_retry_overflow: retries refused by max_retries or the retry budget */
  rqRetryOverflow = 0;
  /** upstream_cx_total */
  cxTotal = 0;
  /** upstream_cx_active */
  cxActive = 0;
  /** upstream_cx_connect_fail */
  cxConnectFail = 0;
  /** upstream_rq_rx_reset */
  rqRxReset = 0;
  /** upstream_cx_none_healthy */
  noneHealthy = 0;
  /** health_check.success / failure */
  hcSuccess = 0;
  hcFailure = 0;

  /** Counts a response status in its class. */
  status(code: number): void {
    const cls = (code / 100) | 0;
    if (cls >= 1 && cls <= 5) this.rqByClass[cls]++;
  }
}
