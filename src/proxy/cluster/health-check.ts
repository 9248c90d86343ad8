// Active health checks of a cluster's hosts (HTTP GET or TCP connect), with Envoy's thresholds.

import { latin1 } from '../common/latin1.ts';
import { connectUpstream, socketReadyEvent } from '../tls/upstream.ts';
import type { HealthCheckConfig } from './cluster-config.ts';
import type { Host } from './host.ts';

/** What a health checker needs from its cluster. */
export interface HealthCheckTarget {
  allHosts(): Host[];
  /** Called when a host's health changed. */
  rebuild(): void;
  readonly stats: { hcSuccess: number; hcFailure: number };
}

interface HostState {
  successes: number;
  failures: number;
  checking: boolean;
  /** A check of this host has completed before. */
  seen: boolean;
}

export class HealthChecker {
  private readonly config: HealthCheckConfig;
  private readonly target: HealthCheckTarget;
  private readonly state = new WeakMap<Host, HostState>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(config: HealthCheckConfig, target: HealthCheckTarget) {
    this.config = config;
    this.target = target;
    this.timer = setInterval(() => this.round(), config.intervalMs);
    this.timer.unref();
    setImmediate(() => this.round());
  }

  /** New hosts are checked at once rather than at the next interval. */
  hostsChanged(): void {
    if (!this.stopped) setImmediate(() => this.round());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  private round(): void {
    if (this.stopped) return;
    for (const host of this.target.allHosts()) {
      let s = this.state.get(host);
      if (!s) {
        s = { successes: 0, failures: 0, checking: false, seen: false };
        this.state.set(host, s);
      }
      if (s.checking) continue;
      s.checking = true;
      const st = s;
      this.check(host, (ok) => {
        st.checking = false;
        if (this.stopped) return;
        this.record(host, st, ok);
      });
    }
  }

  private record(host: Host, s: HostState, ok: boolean): void {
    if (ok) {
      this.target.stats.hcSuccess++;
      s.successes++;
      s.failures = 0;
      // The first success of a new host makes it healthy at once (Envoy's behaviour).
      if (host.checkHealth === 'unhealthy' && (s.successes >= this.config.healthyThreshold || !s.seen)) {
        host.checkHealth = 'healthy';
        this.target.rebuild();
      }
    } else {
      this.target.stats.hcFailure++;
      s.failures++;
      s.successes = 0;
      if (host.checkHealth === 'healthy' && s.failures >= this.config.unhealthyThreshold) {
        host.checkHealth = 'unhealthy';
        this.target.rebuild();
      }
    }
    s.seen = true;
  }

  private check(host: Host, done: (ok: boolean) => void): void {
    let finished = false;
    // Health checks use the host's transport socket (TLS to a TLS endpoint), as Envoy's do.
    const socket = connectUpstream(host.transport, host.address, host.port);
    const finish = (ok: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      done(ok);
    };
    const timer = setTimeout(() => finish(false), this.config.timeoutMs);
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
    socket.on(socketReadyEvent(socket), () => {
      if (this.config.kind === 'tcp') return finish(true);
      socket.write(
        `GET ${this.config.path} HTTP/1.1\r\nhost: ${this.config.host}\r\nuser-agent: weft-health-check\r\nconnection: close\r\n\r\n`,
      );
    });
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += latin1(chunk, 0, chunk.length);
      const eol = head.indexOf('\r\n');
      if (eol < 0) return;
      const status = Number(head.slice(9, 12));
      finish(this.config.expected.some(([start, end]) => status >= start && status < end));
    });
  }
}
