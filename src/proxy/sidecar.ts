// A running sidecar: binds its ports, announces itself over ADS, serves admin, drains on shutdown.
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import type net from 'node:net';
import { PortInUseError, ServerUnavailableError } from '../errors.ts';
import {
  CONTROL_PLANE_IDENTITY,
  checkServerSpiffeId,
  formatSpiffeId,
  parseSpiffeId,
} from '../identity/spiffe.ts';
import { logger } from '../observe/log.ts';
import type { LocalWorkload } from '../observe/proxy-telemetry.ts';
import { NODE_METADATA } from '../xds/node-metadata.ts';
import { jsonToStruct } from '../xds/struct.ts';
import { AdminServer, configDump, coreAdminSource } from './admin/admin-server.ts';
import { renderAdsPrometheus } from './admin/prometheus.ts';
import { type StatsListener, startStatsListener } from './admin/stats-listener.ts';
import { reachableAddress } from './common/host-address.ts';
import { http } from './common/node-http.ts';
import { MeshDns } from './dns/mesh-dns.ts';
import { nameTableOf } from './dns/name-table.ts';
import { hostNameservers } from './dns/upstream.ts';
import { bindIpv6Twin } from './listener/ipv6-twin.ts';
import { bindServer } from './listener/listener-manager.ts';
import { startIdleRelease } from './overload/idle-release.ts';
import { ProxyCore, type ProxyLimits } from './proxy.ts';
import { useDefaultTrust } from './tls/default-trust.ts';
import { SecretStore } from './tls/secrets.ts';
import { startWorkloadSecrets, type TokenSource, type WorkloadSecrets } from './tls/workload-secrets.ts';
import type { WorkerPool } from './workers/worker-pool.ts';
import { AdsClient, type XdsHandler } from './xds-client/ads-client.ts';
import type { GrpcCallTls } from './xds-client/grpc-call.ts';
import { xdsAddressList } from './xds-client/server-addresses.ts';

/** Everything `weft proxy` was told (see DESIGN.md's CLI contract). */
export interface SidecarConfig {
  /** Service the workload serves. */
  service: string;
  namespace: string;
  version: string;
  /** Workload labels (app= and version= are always added). */
  labels: Record<string, string>;
  serviceAccount: string;
  appPort: number;
  /** The app port's name (`--app-port-name`), for Linkerd Servers that select a port by name. */
  appPortName?: string;
  servicePort: number;
  /** HTTP, HTTP2, GRPC or TCP. */
  protocol: string;
  /** 0 picks a free port. */
  inboundPort: number;
  outboundPort: number;
  adminPort: number;
  /**
   * Control-plane API URL (the xDS address is learnt from its /api/v1/bootstrap); several replicas,
   * comma-separated, are all asked, and the proxy fails over between them.
   */
  server: string;
  /** Skip the bootstrap call and use this xDS address. */
  xdsAddress?: string;
  /** How long SIGTERM waits for in-flight requests (ms). */
  drainTimeoutMs: number;
  /** How long to keep trying the control plane's bootstrap endpoint before giving up (ms). */
  bootstrapTimeoutMs: number;
  /** Worker processes serving traffic (1 = this process serves; more = multi-core mode). */
  concurrency: number;
  /** `sidecar` (default) or `gateway` (WEFT_ROLE in the node metadata, for `weft gateway`). */
  role?: 'sidecar' | 'gateway';
  /**
   * Gateways only: the service ports served and the local port each listener binds
   * (WEFT_GATEWAY_PORTS). A gateway binds no inbound or outbound port: its listeners come from
   * the Gateways that select it. `service` is the gateway's name.
   */
  gatewayPorts?: readonly { port: number; listenPort: number; protocol: string }[];
  /**
   * The bootstrap token proving the workload identity (`--token-file`, `--token`). Absent: the
   * proxy mints one through the control plane's API, which allows that from loopback only.
   */
  token?: TokenSource;
  /**
   * The address the endpoint is registered with (`--host-address`): where other hosts reach the
   * inbound listener. Absent: the source address of the route toward the xDS server (loopback
   * when the control plane is on this host).
   */
  hostAddress?: string;
  /** Transparent capture (`--capture`): redirected connections go to their original destination. */
  capture?: boolean;
  /**
   * The stats port (`--stats-port`): admin's read-only endpoints on the host address, over mutual
   * TLS, for the control plane's traffic view; 0 picks a free port. Absent: a free port when the
   * host address is not loopback (a mesh across hosts), none on a one-host mesh.
   */
  statsPort?: number;
  /**
   * Mesh DNS (`--dns-port`): serve it on 127.0.0.1:PORT, UDP and TCP (0 picks a port); absent:
   * no DNS server. `weft run --capture` redirects the app's port-53 queries here.
   */
  dnsPort?: number;
  /** Most connections open at once on each listener, per process (`--max-connections`); absent: no limit. */
  maxConnections?: number;
  /** Heap the overload manager measures pressure against (`--max-heap-mb`); absent: no overload manager. */
  maxHeapBytes?: number;
}

/** The ports a sidecar bound. */
export interface SidecarPorts {
  inbound: number;
  outbound: number;
  admin: number;
  /** Mesh DNS (UDP and TCP); 0 when not served. */
  dns: number;
}

/** The outbound listener's RouteConfiguration (its RDS name): the names and VIPs mesh DNS serves. */
const OUTBOUND_ROUTES = 'outbound';

const log = logger({ component: 'proxy' });

/**
 * One GET with node:http(s) (not undici: the proxy's hot path does not use it, and importing it
 * costs resident memory in every sidecar).
 */
function getText(url: URL, timeoutMs: number): Promise<{ statusCode: number; body: string }> {
  // An https control plane is verified against Node's default CA certificates.
  if (url.protocol === 'https:') useDefaultTrust();
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Asks one control plane's API where its xDS server is. */
async function bootstrapOnce(server: string): Promise<{ xdsAddress: string; trustDomain: string }> {
  const res = await getText(new URL('/api/v1/bootstrap', server), 5000);
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
  const body = JSON.parse(res.body) as { xdsAddress?: unknown; trustDomain?: unknown };
  if (typeof body.xdsAddress !== 'string' || body.xdsAddress === '')
    throw new Error('the answer has no xdsAddress');
  return {
    xdsAddress: body.xdsAddress,
    trustDomain: typeof body.trustDomain === 'string' ? body.trustDomain : 'cluster.local',
  };
}

/**
 * Asks the control plane's API where its xDS server is; retries until `timeoutMs`. `server` may
 * name several replicas, comma-separated: every one that answers adds its xDS address to the
 * comma-separated `xdsAddress`, which the ADS client fails over between (with a server given by
 * name, that name too: every replica it resolves to).
 */
export async function fetchBootstrap(
  server: string,
  timeoutMs: number,
): Promise<{ xdsAddress: string; trustDomain: string }> {
  const start = Date.now();
  const deadline = start + timeoutMs;
  const servers = server.split(',');
  let delay = 200;
  let lastError = '';
  let told = '';
  let toldAt = 0;
  for (;;) {
    const answers = await Promise.allSettled(servers.map(bootstrapOnce));
    const found = answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
    if (found.length > 0)
      return {
        xdsAddress: xdsAddressList(
          servers,
          found.map((f) => f.xdsAddress),
        ),
        trustDomain: found[0].trustDomain,
      };
    const failed = answers.find((a) => a.status === 'rejected');
    lastError = failed ? String((failed.reason as Error)?.message ?? failed.reason) : '';
    if (Date.now() + delay > deadline)
      throw new ServerUnavailableError(
        `cannot get the xDS address from ${servers.map((s) => `${s}/api/v1/bootstrap`).join(', ')} within ${Math.round(timeoutMs / 1000)}s: ${lastError}; is the control plane running (weft check --server ${servers[0]})?`,
      );
    // Say what the proxy waits for within a second, again when the cause changes, and every 15 s.
    const now = Date.now();
    if (now - start >= 800 && (lastError !== told || now - toldAt >= 15_000)) {
      log.warn(
        { server, cause: lastError },
        `waiting for the control plane at ${server} (${lastError}); retrying`,
      );
      told = lastError;
      toldAt = now;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 2000);
  }
}

/** Where the ADS stream goes and the mTLS it uses. */
interface XdsTarget {
  address: string;
  tls: () => GrpcCallTls;
}

/**
 * mTLS toward the control plane: this workload's current certificate, and the server must present
 * the control plane's SPIFFE ID in this workload's trust domain (pinned: no other mesh identity,
 * and no certificate from outside the trust bundle, can serve this proxy its configuration).
 */
function controlPlaneTls(secrets: WorkloadSecrets): () => GrpcCallTls {
  const own = parseSpiffeId(secrets.spiffeId);
  const checkServerIdentity = checkServerSpiffeId([
    formatSpiffeId({ trustDomain: own.trustDomain, ...CONTROL_PLANE_IDENTITY }),
  ]);
  return () => {
    const c = secrets.identity.current();
    return { key: c.keyPem, cert: c.certChainPem, ca: c.trustBundlePem, checkServerIdentity };
  };
}

/** The workload a sidecar or gateway serves, for Istio's metric labels. */
function localWorkload(c: SidecarConfig, principal: string): LocalWorkload {
  const gateway = c.role === 'gateway';
  const labels = gateway
    ? c.labels
    : { ...c.labels, app: c.labels.app ?? c.service, version: c.labels.version ?? c.version };
  return {
    name: c.service,
    namespace: c.namespace,
    principal,
    labels,
    serviceHost: gateway ? undefined : `${c.service}.${c.namespace}.svc.cluster.local`,
  };
}

export class Sidecar {
  readonly config: SidecarConfig;
  /** Serves traffic (one process), or only validates and tracks config (multi-core primary). */
  readonly core: ProxyCore;
  private ads: AdsClient | undefined;
  private admin: AdminServer | undefined;
  /** The stats port for the control plane (a mesh across hosts). */
  private stats: StatsListener | undefined;
  private workers: WorkerPool | undefined;
  /** The workload certificate behind SDS `default`/`ROOTCA`, renewed at half life. */
  private identity: WorkloadSecrets | undefined;
  private readyWaiters: (() => void)[] = [];
  private readyTimer: NodeJS.Timeout | undefined;
  ports: SidecarPorts = { inbound: 0, outbound: 0, admin: 0, dns: 0 };
  private dns: MeshDns | undefined;

  private constructor(config: SidecarConfig, core: ProxyCore) {
    this.config = config;
    this.core = core;
  }

  /** Binds the ports, starts admin and the ADS stream. Resolves once ports are bound (not yet ready). */
  static async start(given: SidecarConfig): Promise<Sidecar> {
    const xds = given.xdsAddress ?? (await fetchBootstrap(given.server, given.bootstrapTimeoutMs)).xdsAddress;
    const config = { ...given, hostAddress: given.hostAddress ?? (await reachableAddress(xds)) };
    // The identity comes first: the first listeners and clusters already use its certificate.
    const secrets = new SecretStore();
    const identity = await startWorkloadSecrets(
      {
        server: config.server,
        namespace: config.namespace,
        serviceAccount: config.serviceAccount,
        token: config.token ?? { kind: 'mint' },
        startTimeoutMs: config.bootstrapTimeoutMs,
      },
      secrets,
    );
    const tls = controlPlaneTls(identity);
    let stats: StatsListener | undefined;
    try {
      stats = await statsListenerFor(given.statsPort, config.hostAddress, identity);
      if (stats) config.statsPort = stats.port;
      const sidecar =
        config.concurrency > 1
          ? await Sidecar.startMultiCore(config, { address: xds, tls }, secrets, identity)
          : config.role === 'gateway'
            ? await Sidecar.startGateway(
                config,
                { address: xds, tls },
                secrets,
                localWorkload(config, identity.spiffeId),
              )
            : await Sidecar.startSingle(
                config,
                { address: xds, tls },
                secrets,
                localWorkload(config, identity.spiffeId),
              );
      sidecar.identity = identity;
      sidecar.stats = stats;
      if (sidecar.admin) stats?.serve(sidecar.admin);
      // After a burst of traffic, the heap goes back to the host once the process is idle.
      startIdleRelease();
      return sidecar;
    } catch (err) {
      identity.stop();
      await stats?.close();
      throw err;
    }
  }

  /** One process: binds the inbound and outbound ports, serves admin, opens the ADS stream. */
  private static async startSingle(
    config: SidecarConfig,
    xds: XdsTarget,
    secrets: SecretStore,
    workload: LocalWorkload,
  ): Promise<Sidecar> {
    const inbound = await bindServer('0.0.0.0', config.inboundPort);
    const outbound = await bindServer('127.0.0.1', config.outboundPort).catch((err) => {
      inbound.close();
      throw err;
    });
    // Under capture, ip6tables redirects IPv6 connections to the same ports on IPv6 addresses.
    if (config.capture)
      await Promise.all([bindIpv6Twin(inbound, '::'), bindIpv6Twin(outbound, '::1')]).catch((err) => {
        inbound.close();
        outbound.close();
        throw err;
      });
    const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;
    const prebound = new Map<number, net.Server>([
      [portOf(inbound), inbound],
      [portOf(outbound), outbound],
    ]);
    const sidecar = new Sidecar(
      config,
      new ProxyCore({ prebound, secrets, workload, capture: config.capture, ...limitsOf(config) }),
    );
    sidecar.ports.inbound = portOf(inbound);
    sidecar.ports.outbound = portOf(outbound);
    sidecar.admin = new AdminServer(coreAdminSource(sidecar.core, () => sidecar.ads));
    try {
      sidecar.ports.admin = await sidecar.admin.listen({ host: '127.0.0.1', port: config.adminPort });
      if (config.dnsPort !== undefined) await sidecar.startDns(config.dnsPort);
    } catch (err) {
      inbound.close();
      outbound.close();
      await sidecar.admin.close();
      throw err;
    }
    sidecar.ads = new AdsClient(
      { address: xds.address, tls: xds.tls, node: sidecar.node(), initialBackoffMs: 250, maxBackoffMs: 5000 },
      sidecar.core,
      log,
    );
    sidecar.ads.start();
    return sidecar;
  }

  /**
   * A gateway: binds the ports it was given at start (a port taken by another process fails the
   * start, not a later LDS update, and nothing else can take it meanwhile) but refuses connections
   * on each until a Gateway's listener adopts it; then admin and the ADS stream.
   */
  private static async startGateway(
    config: SidecarConfig,
    xds: XdsTarget,
    secrets: SecretStore,
    workload: LocalWorkload,
  ): Promise<Sidecar> {
    const prebound = new Map<number, net.Server>();
    const closeAll = () => {
      for (const s of prebound.values()) s.close();
    };
    try {
      for (const { listenPort } of config.gatewayPorts ?? []) {
        if (prebound.has(listenPort)) continue;
        const server = await bindServer('0.0.0.0', listenPort);
        server.maxConnections = 0;
        prebound.set(listenPort, server);
      }
    } catch (err) {
      closeAll();
      throw err;
    }
    const sidecar = new Sidecar(config, new ProxyCore({ prebound, secrets, workload, ...limitsOf(config) }));
    sidecar.admin = new AdminServer(coreAdminSource(sidecar.core, () => sidecar.ads));
    try {
      sidecar.ports.admin = await sidecar.admin.listen({ host: '127.0.0.1', port: config.adminPort });
    } catch (err) {
      closeAll();
      throw err;
    }
    sidecar.ads = new AdsClient(
      { address: xds.address, tls: xds.tls, node: sidecar.node(), initialBackoffMs: 250, maxBackoffMs: 5000 },
      sidecar.core,
      log,
    );
    sidecar.ads.start();
    return sidecar;
  }

  /**
   * Multi-core mode: `concurrency` worker processes bind the inbound and outbound ports with
   * SO_REUSEPORT and serve; this process keeps the ADS stream and the admin port, validates
   * each update, hands it to every worker and ACKs only when all of them applied it.
   */
  private static async startMultiCore(
    config: SidecarConfig,
    xds: XdsTarget,
    secrets: SecretStore,
    identity: WorkloadSecrets,
  ): Promise<Sidecar> {
    // Port 0: learn a free port by binding it (reusable), so that the workers can join it.
    const probes = await Promise.all([
      bindServer('0.0.0.0', config.inboundPort, true),
      bindServer('127.0.0.1', config.outboundPort, true),
    ]);
    const [inbound, outbound] = probes.map((s) => (s.address() as net.AddressInfo).port);
    const core = new ProxyCore({ configOnly: true, secrets });
    const sidecar = new Sidecar(config, core);
    sidecar.ports.inbound = inbound;
    sidecar.ports.outbound = outbound;
    // Imported here: a single-process sidecar (the default) never loads the worker pool.
    const { WorkerPool } = await import('./workers/worker-pool.ts');
    const pool = new WorkerPool(
      {
        workers: config.concurrency,
        prebind: [
          { host: '0.0.0.0', port: inbound },
          { host: '127.0.0.1', port: outbound },
        ],
        workload: localWorkload(config, identity.spiffeId),
        limits: limitsOf(config),
      },
      log,
    );
    sidecar.workers = pool;
    try {
      await pool.start();
    } finally {
      for (const s of probes) s.close();
    }
    // Workers terminate and originate TLS too: they get the secrets now and after each rotation.
    await pool.setSecrets(secrets.secretsToShare());
    identity.identity.onRotate(() => {
      pool.setSecrets(secrets.secretsToShare()).catch((err: unknown) => {
        log.error({ err }, 'could not hand the rotated certificate to the proxy workers');
      });
    });
    const handler: XdsHandler = {
      async apply(typeUrl, resources, version, complete) {
        await core.apply(typeUrl, resources, version, complete);
        await pool.apply(typeUrl, resources, version, complete);
      },
      routeNames: () => core.routeNames(),
      endpointNames: () => core.endpointNames(),
    };
    sidecar.admin = new AdminServer({
      ready: () => core.ready(),
      prometheus: async () => {
        const ads = sidecar.ads;
        return (await pool.prometheus()) + (ads ? renderAdsPrometheus(ads, core.ready()) : '');
      },
      configDump: () => configDump(core, sidecar.ads),
      clusters: (format) => pool.clusters(format),
      core,
      nodeId: () => sidecar.ads?.nodeId,
    });
    try {
      sidecar.ports.admin = await sidecar.admin.listen({ host: '127.0.0.1', port: config.adminPort });
    } catch (err) {
      await pool.shutdown(0);
      throw err;
    }
    sidecar.ads = new AdsClient(
      { address: xds.address, tls: xds.tls, node: sidecar.node(), initialBackoffMs: 250, maxBackoffMs: 5000 },
      handler,
      log,
    );
    sidecar.ads.start();
    return sidecar;
  }

  private node() {
    const c = this.config;
    if (c.role === 'gateway') return this.gatewayNode();
    const labels = { ...c.labels, app: c.labels.app ?? c.service, version: c.labels.version ?? c.version };
    const id = `sidecar~${c.hostAddress ?? '127.0.0.1'}~${c.service}-${randomBytes(4).toString('hex')}.${c.namespace}~${c.namespace}.svc.cluster.local`;
    return {
      id,
      cluster: c.service,
      user_agent_name: 'weft',
      metadata: jsonToStruct({
        [NODE_METADATA.sidecar]: 'true',
        [NODE_METADATA.role]: c.role ?? 'sidecar',
        [NODE_METADATA.namespace]: c.namespace,
        [NODE_METADATA.serviceAccount]: c.serviceAccount,
        [NODE_METADATA.labels]: labels,
        [NODE_METADATA.instanceIps]: [c.hostAddress ?? '127.0.0.1'],
        [NODE_METADATA.service]: c.service,
        [NODE_METADATA.servicePort]: String(c.servicePort),
        [NODE_METADATA.serviceProtocol]: c.protocol,
        [NODE_METADATA.appPort]: String(c.appPort),
        ...(c.appPortName === undefined ? {} : { [NODE_METADATA.appPortName]: c.appPortName }),
        [NODE_METADATA.inboundPort]: String(this.ports.inbound),
        [NODE_METADATA.outboundPort]: String(this.ports.outbound),
        [NODE_METADATA.adminPort]: String(this.ports.admin),
        ...statsMetadata(c),
      }),
    };
  }

  /** A gateway's node: Istio's `router~` id, its labels as given, and the ports it serves. */
  private gatewayNode() {
    const c = this.config;
    const id = `router~${c.hostAddress ?? '127.0.0.1'}~${c.service}-${randomBytes(4).toString('hex')}.${c.namespace}~${c.namespace}.svc.cluster.local`;
    const ports = (c.gatewayPorts ?? []).map((p) => `${p.port}=${p.listenPort}/${p.protocol.toLowerCase()}`);
    return {
      id,
      cluster: c.service,
      user_agent_name: 'weft',
      metadata: jsonToStruct({
        [NODE_METADATA.sidecar]: 'true',
        [NODE_METADATA.role]: 'gateway',
        [NODE_METADATA.namespace]: c.namespace,
        [NODE_METADATA.serviceAccount]: c.serviceAccount,
        [NODE_METADATA.labels]: c.labels,
        [NODE_METADATA.instanceIps]: [c.hostAddress ?? '127.0.0.1'],
        [NODE_METADATA.gatewayPorts]: ports.join(','),
        [NODE_METADATA.adminPort]: String(this.ports.admin),
        ...statsMetadata(c),
      }),
    };
  }

  /** The workload's SPIFFE ID (the identity its certificate carries). */
  get spiffeId(): string | undefined {
    return this.identity?.spiffeId;
  }

  /** Resolves when the first complete configuration has arrived (admin /ready turns 200). */
  whenReady(): Promise<void> {
    if (this.core.ready()) return Promise.resolve();
    return new Promise((resolve) => {
      this.readyWaiters.push(resolve);
      if (!this.readyTimer) {
        this.readyTimer = setInterval(() => {
          if (!this.core.ready()) return;
          clearInterval(this.readyTimer);
          this.readyTimer = undefined;
          const waiters = this.readyWaiters;
          this.readyWaiters = [];
          for (const w of waiters) w();
        }, 20);
      }
    });
  }

  /** Mesh DNS on 127.0.0.1:`port`: the names of the outbound routes, everything else to the host's resolvers. */
  private async startDns(port: number): Promise<void> {
    const upstreams = hostNameservers();
    const dns = new MeshDns({
      host: '127.0.0.1',
      port,
      names: () => nameTableOf(this.core.routeTable(OUTBOUND_ROUTES)),
      upstreams,
      // Under capture, ip6tables sends the app's IPv6 queries to [::1] on the same port.
      ipv6Twin: this.config.capture === true,
    });
    this.ports.dns = await dns.listen().catch((err: Error) => {
      throw new PortInUseError(
        `cannot serve mesh DNS on 127.0.0.1:${port} (--dns-port): ${err.message}`,
        err,
      );
    });
    this.dns = dns;
    this.core.dnsStats = dns.stats;
    log.info({ port: this.ports.dns, upstreams }, 'mesh DNS serving');
  }

  /**
   * Graceful shutdown: stop accepting, let in-flight requests finish (up to drainTimeoutMs),
   * then close everything. Resolves to whether the drain finished in time.
   */
  async shutdown(): Promise<'drained' | 'timed_out'> {
    if (this.readyTimer) clearInterval(this.readyTimer);
    this.core.drain();
    const deadline = Date.now() + this.config.drainTimeoutMs;
    while (this.core.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    const outcome = this.core.connections > 0 ? 'timed_out' : 'drained';
    if (this.workers) await this.workers.shutdown(this.config.drainTimeoutMs);
    this.ads?.close();
    this.dns?.close();
    this.identity?.stop();
    this.core.destroy();
    await this.admin?.close();
    await this.stats?.close();
    return outcome;
  }
}

/** The stats port asked for, or by default one on a host address that is not loopback; undefined: none. */
function statsListenerFor(
  port: number | undefined,
  host: string,
  secrets: WorkloadSecrets,
): Promise<StatsListener | undefined> {
  const wanted = port ?? (/^127\.|^::1$/.test(host) ? undefined : 0);
  if (wanted === undefined) return Promise.resolve(undefined);
  return startStatsListener({ host, port: wanted, identity: secrets.identity, spiffeId: secrets.spiffeId });
}

/** WEFT_STATS_PORT when the stats port is bound. */
function statsMetadata(c: SidecarConfig): Record<string, string> {
  return c.statsPort === undefined ? {} : { [NODE_METADATA.statsPort]: String(c.statsPort) };
}

/** The connection and heap limits each serving process applies. */
function limitsOf(config: SidecarConfig): ProxyLimits {
  return {
    ...(config.maxConnections !== undefined ? { maxConnections: config.maxConnections } : {}),
    ...(config.maxHeapBytes !== undefined ? { maxHeapBytes: config.maxHeapBytes } : {}),
  };
}
