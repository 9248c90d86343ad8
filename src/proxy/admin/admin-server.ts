// The admin port: Envoy's admin endpoints (/ready, /stats, /config_dump, /clusters, /listeners, /certs, ...); /help lists them.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { PortInUseError } from '../../errors.ts';
import { LOG_LEVELS, logger, setLogLevel } from '../../observe/log.ts';
import { http } from '../common/node-http.ts';
import type { ProxyCore } from '../proxy.ts';
import type { AdsClient } from '../xds-client/ads-client.ts';
import {
  helpText,
  renderCerts,
  renderListeners,
  renderServerInfo,
  statsFromPrometheus,
} from './admin-views.ts';
import { renderPrometheus } from './prometheus.ts';
import { serveTap } from './tap.ts';

/** Settings of the admin server. */
export interface AdminConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
}

/** Where the admin endpoints get their answers: one process, or a multi-core primary and its workers. */
export interface AdminSource {
  ready(): boolean;
  prometheus(): Promise<string>;
  configDump(): unknown;
  clusters(format: 'json' | 'text'): Promise<string>;
  /** The proxy core behind /listeners and /certs (the primary's in multi-core mode). */
  core: ProxyCore;
  /** The xDS node id, once the ADS client exists. */
  nodeId(): string | undefined;
}

/** The admin source of a single-process proxy. */
export function coreAdminSource(core: ProxyCore, ads: () => AdsClient | undefined): AdminSource {
  return {
    ready: () => core.ready(),
    prometheus: async () => renderPrometheus(core, ads()),
    configDump: () => configDump(core, ads()),
    clusters: async (format) =>
      format === 'json' ? `${JSON.stringify(renderClustersJson(core), null, 2)}\n` : renderClustersText(core),
    core,
    nodeId: () => ads()?.nodeId,
  };
}

/** The xDS resources in use, with the version each was accepted at and the last NACK per type. */
export function configDump(core: ProxyCore, ads: AdsClient | undefined): unknown {
  const status = ads?.status() ?? {};
  const configs = [...core.accepted].map(([typeUrl, resources]) => ({
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

/** /clusters?format=json: every cluster with its hosts, health and counters. */
export function renderClustersJson(core: ProxyCore): unknown {
  return {
    clusterStatuses: core.clusters.all().map((c) => ({
      name: c.name,
      lbPolicy: c.config.lbPolicy,
      protocol: c.config.protocol,
      hostStatuses: c.allHosts().map((h) => ({
        address: { socketAddress: { address: h.address, portValue: h.port } },
        weight: h.weight,
        healthStatus: {
          edsHealthStatus: h.edsHealth.toUpperCase(),
          failedActiveHealthCheck: h.checkHealth === 'unhealthy',
          failedOutlierCheck: h.ejectedUntil !== 0,
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

/** /clusters in Envoy's text form: `cluster::ip:port::stat::value`. */
export function renderClustersText(core: ProxyCore): string {
  let out = '';
  for (const c of core.clusters.all()) {
    for (const h of c.allHosts()) {
      const p = `${c.name}::${h.key}`;
      const flags = h.healthy
        ? 'healthy'
        : h.checkHealth === 'unhealthy'
          ? '/failed_active_hc'
          : h.ejectedUntil !== 0
            ? '/failed_outlier_check'
            : `/eds_${h.edsHealth}`;
      out += `${p}::cx_active::${h.pool?.connections ?? 0}\n`;
      out += `${p}::rq_active::${h.active}\n`;
      out += `${p}::rq_total::${h.requests}\n`;
      out += `${p}::weight::${h.weight}\n`;
      out += `${p}::health_flags::${flags}\n`;
    }
  }
  return out;
}

/** Admin endpoints that only read (served on the stats port too). */
const READ_ONLY = new Set([
  '/ready',
  '/stats/prometheus',
  '/stats',
  '/config_dump',
  '/clusters',
  '/listeners',
  '/certs',
  '/server_info',
  '/tap',
]);

export class AdminServer {
  private readonly source: AdminSource;
  private readonly server: Server;

  constructor(source: AdminSource) {
    this.source = source;
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${err instanceof Error ? err.message : String(err)}\n`);
      });
    });
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

  /**
   * The read-only part of admin, for the control plane on another host (the stats port): GET of
   * the stats, the dumps it relays and the tap stream (request metadata, never bodies or
   * headers); what changes state (`/logging`) and every other method are refused.
   */
  async handleReadOnly(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://admin').pathname;
    if (req.method !== 'GET' || !READ_ONLY.has(path)) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end(`the stats port serves GET ${[...READ_ONLY].join(', ')} only\n`);
      return;
    }
    await this.handle(req, res);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const json = url.searchParams.get('format') === 'json';
    switch (url.pathname) {
      case '/ready':
        if (this.source.ready()) send(200, 'text/plain', 'LIVE\n');
        else send(503, 'text/plain', 'PRE_INITIALIZING\n');
        return;
      case '/stats/prometheus':
        send(200, 'text/plain; version=0.0.4', await this.source.prometheus());
        return;
      case '/stats': {
        const filter = url.searchParams.get('filter');
        let body: string;
        try {
          body = statsFromPrometheus(await this.source.prometheus(), filter, json);
        } catch (err) {
          send(
            400,
            'text/plain',
            `filter ${JSON.stringify(filter)} is not an RE2 regex: ${(err as Error).message}\n`,
          );
          return;
        }
        send(200, json ? 'application/json' : 'text/plain', body);
        return;
      }
      case '/config_dump':
        send(200, 'application/json', `${JSON.stringify(this.source.configDump(), null, 2)}\n`);
        return;
      case '/clusters':
        send(
          200,
          json ? 'application/json' : 'text/plain',
          await this.source.clusters(json ? 'json' : 'text'),
        );
        return;
      case '/listeners':
        send(200, json ? 'application/json' : 'text/plain', renderListeners(this.source.core, json));
        return;
      case '/certs':
        send(200, 'application/json', renderCerts(this.source.core));
        return;
      case '/server_info':
        send(200, 'application/json', renderServerInfo(this.source.ready(), this.source.nodeId()));
        return;
      case '/tap':
        serveTap(this.source.core.telemetry.tap, url, req, res);
        return;
      case '/logging':
        this.logging(req, url, send);
        return;
      case '/':
      case '/help':
        send(200, 'text/plain', helpText());
        return;
      default:
        send(404, 'text/plain', `no admin endpoint ${url.pathname}\n${helpText()}`);
        return;
    }
  }

  /** GET: the level; POST ?level=L: sets this process's log level (Envoy's /logging, one logger). */
  private logging(
    req: IncomingMessage,
    url: URL,
    send: (status: number, type: string, body: string) => void,
  ): void {
    const level = url.searchParams.get('level');
    if (level === null) {
      send(200, 'text/plain', `active loggers:\n  weft: ${logger().level}\n`);
      return;
    }
    if (req.method !== 'POST') {
      send(405, 'text/plain', 'change the level with POST /logging?level=LEVEL\n');
      return;
    }
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      send(400, 'text/plain', `level ${JSON.stringify(level)} is not one of ${LOG_LEVELS.join(', ')}\n`);
      return;
    }
    setLogLevel(level);
    send(200, 'text/plain', `active loggers:\n  weft: ${level}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
