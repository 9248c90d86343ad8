// Istio's TCP metrics of one proxied connection: opened, closed, bytes each way, with the peer's labels.
import type net from 'node:net';
import {
  type Reporter,
  type SecurityPolicy,
  type TcpSeries,
  UNKNOWN_WORKLOAD,
} from '../../observe/istio-metrics.ts';
import type { ProxyTelemetry } from '../../observe/proxy-telemetry.ts';
import { tlsConnectionFacts } from '../tls/connection-facts.ts';

/** Why a connection got no upstream, as Envoy's response flags say it. */
export type TcpFailure = 'UH' | 'UF';

/**
 * Counts one downstream connection. The reporter is `destination` when the connection goes to the
 * sidecar's own app (`inbound|...` cluster) and `source` otherwise. Bytes are added when the
 * connection closes and at each scrape while it is open.
 */
export class TcpMeter {
  private readonly telemetry: ProxyTelemetry;
  private readonly socket: net.Socket;
  private series: TcpSeries | undefined;
  private sent = 0;
  private received = 0;

  constructor(telemetry: ProxyTelemetry, socket: net.Socket) {
    this.telemetry = telemetry;
    this.socket = socket;
  }

  /** The connection reached (or failed to reach, with `failure`) an upstream of `cluster`. */
  open(cluster: string, failure?: TcpFailure): void {
    if (this.series) return;
    this.series = this.edgeSeries(cluster, failure ?? '-');
    this.series.opened.value++;
    this.telemetry.live.add(this);
    this.socket.once('close', () => this.close());
  }

  /** Adds the bytes moved since the last flush. */
  flush(): void {
    const s = this.series;
    if (!s) return;
    const written = this.socket.bytesWritten;
    const read = this.socket.bytesRead;
    s.sent.value += written - this.sent;
    s.received.value += read - this.received;
    this.sent = written;
    this.received = read;
  }

  private close(): void {
    this.flush();
    this.series!.closed.value++;
    this.telemetry.live.delete(this);
  }

  private edgeSeries(cluster: string, flags: string): TcpSeries {
    const t = this.telemetry;
    const reporter: Reporter = cluster.startsWith('inbound|') ? 'destination' : 'source';
    if (reporter === 'destination') {
      const principal = tlsConnectionFacts(this.socket).peerPrincipal;
      const policy: SecurityPolicy = principal ? 'mutual_tls' : 'none';
      return t.istio.edge(reporter, t.peerOfPrincipal(principal), t.selfService, 'tcp', policy).tcp(flags);
    }
    return t.istio.edge(reporter, UNKNOWN_WORKLOAD, t.serviceOfCluster(cluster), 'tcp', 'unknown').tcp(flags);
  }
}
