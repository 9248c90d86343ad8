// The admin port: /ready, /stats/prometheus, /config_dump, /clusters (Envoy's admin endpoints, read-only).
import http from 'node:http';
import { PortInUseError } from '../../errors.ts';
import type { ProxyCore } from '../proxy.ts';
import type { AdsClient } from '../xds-client/ads-client.ts';
import { renderPrometheus } from './prometheus.ts';

/** Settings of the admin server. */
export interface AdminConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
}

export class AdminServer {
  private readonly core: ProxyCore;
  private readonly ads: () => AdsClient | undefined;
  private readonly server: http.Server;

  constructor(core: ProxyCore, ads: () => AdsClient | undefined) {
    this.core = core;
    this.ads = ads;
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  listen(config: AdminConfig): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', (err) =>
        reject(new PortInUseError(`cannot listen on admin port ${config.port}: ${err.message}`, err)),
      );
      this.server.listen(config.port, config.host, () => {
        const a = this.server.address();
        resolve(typeof a === 'object' && a ? a.port : 0);
      });
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    switch (url.pathname) {
      case '/ready':
        if (this.core.ready()) send(200, 'text/plain', 'LIVE\n');
        else send(503, 'text/plain', 'PRE_INITIALIZING\n');
        return;
      case '/stats/prometheus':
        send(200, 'text/plain; version=0.0.4', renderPrometheus(this.core, this.ads()));
        return;
      case '/config_dump':
        send(200, 'application/json', `${JSON.stringify(this.configDump(), null, 2)}\n`);
        return;
      case '/clusters':
        if (url.searchParams.get('format') === 'json')
          send(200, 'application/json', `${JSON.stringify(this.clustersJson(), null, 2)}\n`);
        else send(200, 'text/plain', this.clustersText());
        return;
      case '/':
        send(200, 'text/plain', '/ready\n/stats/prometheus\n/config_dump\n/clusters\n');
        return;
      default:
        send(404, 'text/plain', 'not found\n');
        return;
    }
  }

  /** The xDS resources in use, with the version each was accepted at and the last NACK per type. */
  private configDump(): unknown {
    const status = this.ads()?.status() ?? {};
    const configs = [...this.core.accepted].map(([typeUrl, resources]) => ({
      typeUrl,
      versionInfo: status[typeUrl]?.version ?? '',
      lastRejection: status[typeUrl]?.lastError || undefined,
      resources: [...resources.values()].map((r) => ({
        name: r.name,
        versionInfo: r.version,
        resource: r.body,
      })),
    }));
    return { configs };
  }

  private clustersJson(): unknown {
    return {
      clusterStatuses: this.core.clusters.all().map((c) => ({
        name: c.name,
        lbPolicy: c.config.lbPolicy,
        protocol: c.config.protocol,
        hostStatuses: c.allHosts().map((h) => ({
          address: { socketAddress: { address: h.address, portValue: h.port } },
          weight: h.weight,
          healthStatus: {
            edsHealthStatus: h.edsHealth.toUpperCase(),
            failedActiveHealthCheck: h.checkHealth === 'unhealthy',
          },
          healthy: h.healthy,
          stats: {
            rqTotal: h.requests,
            rqActive: h.active,
            failures: h.failures,
            cxActive: h.pool?.connections ?? 0,
          },
        })),
      })),
    };
  }

  private clustersText(): string {
    let out = '';
    for (const c of this.core.clusters.all()) {
      for (const h of c.allHosts()) {
        const p = `${c.name}::${h.key}`;
        out += `${p}::cx_active::${h.pool?.connections ?? 0}\n`;
        out += `${p}::rq_active::${h.active}\n`;
        out += `${p}::rq_total::${h.requests}\n`;
        out += `${p}::weight::${h.weight}\n`;
        out += `${p}::health_flags::${h.healthy ? 'healthy' : h.checkHealth === 'unhealthy' ? '/failed_active_hc' : `/eds_${h.edsHealth}`}\n`;
      }
    }
    return out;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
