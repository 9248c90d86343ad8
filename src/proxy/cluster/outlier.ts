// Outlier detection (passive health checking): ejects hosts after consecutive errors, brings them back later.
import type { OutlierDetectionConfig } from './cluster-config.ts';
import type { Host } from './host.ts';

/** What a request's upstream attempt ended with, as outlier detection counts it. */
export type UpstreamResult = number | 'connect_failure' | 'reset' | 'timeout';

/** What the detector needs from its cluster. */
export interface OutlierTarget {
  allHosts(): Host[];
  rebuild(): void;
}

export class OutlierDetector {
  private readonly config: OutlierDetectionConfig;
  private readonly target: OutlierTarget;
  private readonly timer: NodeJS.Timeout;
  /** outlier_detection.ejections_enforced_total */
  ejectionsTotal = 0;

  constructor(config: OutlierDetectionConfig, target: OutlierTarget) {
    this.config = config;
    this.target = target;
    this.timer = setInterval(() => this.review(), config.intervalMs);
    this.timer.unref();
  }

  /** Records the outcome of one upstream attempt on `host`. */
  record(host: Host, result: UpstreamResult): void {
    const c = this.config;
    const local = typeof result !== 'number';
    if (local && c.splitLocalOrigin) {
      host.consecutiveLocal++;
      if (c.consecutiveLocalOriginFailure > 0 && host.consecutiveLocal >= c.consecutiveLocalOriginFailure)
        this.eject(host);
      return;
    }
    // Without the split, a local-origin failure counts as a 503 (Envoy).
    const status = local ? 503 : result;
    if (status >= 500) {
      host.consecutive5xx++;
      if (status === 502 || status === 503 || status === 504) host.consecutiveGateway++;
      else host.consecutiveGateway = 0;
      if (c.consecutive5xx > 0 && host.consecutive5xx >= c.consecutive5xx) this.eject(host);
      else if (c.consecutiveGatewayFailure > 0 && host.consecutiveGateway >= c.consecutiveGatewayFailure)
        this.eject(host);
    } else {
      host.consecutive5xx = 0;
      host.consecutiveGateway = 0;
      if (!local) host.consecutiveLocal = 0;
    }
  }

  private eject(host: Host): void {
    host.consecutive5xx = 0;
    host.consecutiveGateway = 0;
    host.consecutiveLocal = 0;
    if (host.ejectedUntil !== 0) return;
    const hosts = this.target.allHosts();
    const ejected = hosts.filter((h) => h.ejectedUntil !== 0).length;
    // Envoy always allows at least one ejection, then caps by max_ejection_percent.
    if (ejected > 0 && ((ejected + 1) * 100) / hosts.length > this.config.maxEjectionPercent) return;
    host.ejections++;
    this.ejectionsTotal++;
    const time = Math.min(
      this.config.baseEjectionTimeMs * host.ejections,
      Math.max(this.config.maxEjectionTimeMs, this.config.baseEjectionTimeMs),
    );
    host.ejectedUntil = Date.now() + time;
    this.target.rebuild();
  }

  /** Brings back hosts whose ejection time is over (runs every `interval`). */
  private review(): void {
    const now = Date.now();
    let changed = false;
    for (const h of this.target.allHosts()) {
      if (h.ejectedUntil !== 0 && h.ejectedUntil <= now) {
        h.ejectedUntil = 0;
        changed = true;
      }
    }
    if (changed) this.target.rebuild();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
