// Per connection-manager counters, named after Envoy's http.<stat_prefix>.* statistics.

export class HttpStats {
  readonly prefix: string;
  /** downstream_cx_total / downstream_cx_active */
  cxTotal = 0;
  cxActive = 0;
  /** downstream_rq_total / downstream_rq_active */
  rqTotal = 0;
  rqActive = 0;
  /** downstream_rq_1xx..5xx (index 1..5) */
  readonly rqByClass = [0, 0, 0, 0, 0, 0];
  /** no_route */
  noRoute = 0;
  /** downstream_rq_http1_total / http2 */
  rqHttp1 = 0;
  rqHttp2 = 0;
  /** downstream_cx_protocol_error */
  protocolError = 0;
  /** downstream_rq_rx_reset (client went away mid-request) */
  rxReset = 0;
  /** downstream_cx_upgrades_total */
  upgrades = 0;
  /** downstream_cx_idle_timeout: connections closed after idle_timeout with no request. */
  cxIdleTimeout = 0;
  /** downstream_rq_idle_timeout: requests ended by stream_idle_timeout. */
  rqIdleTimeout = 0;
  /** downstream_rq_timeout: requests not received in full within request_timeout. */
  rqTimeout = 0;
  /** downstream_rq_header_timeout: requests whose head did not arrive within request_headers_timeout. */
  rqHeaderTimeout = 0;
  /** downstream_cx_max_duration_reached */
  cxMaxDurationReached = 0;
  /** downstream_rq_too_many_premature_resets: HTTP/2 sessions closed for rapid reset. */
  rqTooManyPrematureResets = 0;
  /** downstream_rq_overload_close: requests refused with 503 (OL) while the overload manager sheds load. */
  rqOverloadClose = 0;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  status(code: number): void {
    const cls = (code / 100) | 0;
    if (cls >= 1 && cls <= 5) this.rqByClass[cls]++;
  }
}

/** Stats objects by stat prefix, shared by every listener using the prefix. */
export class HttpStatsRegistry {
  private readonly byPrefix = new Map<string, HttpStats>();

  get(prefix: string): HttpStats {
    let s = this.byPrefix.get(prefix);
    if (!s) {
      s = new HttpStats(prefix);
      this.byPrefix.set(prefix, s);
    }
    return s;
  }

  all(): HttpStats[] {
    return [...this.byPrefix.values()];
  }
}
