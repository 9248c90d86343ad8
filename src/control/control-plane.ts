// The control-plane process: store + registry → mesh snapshot → (xDS server), with the HTTP API in front.

import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { DEFAULT_MESH } from '../model/mesh.ts';
import { buildSnapshot } from '../model/snapshot.ts';
import type { MeshSettings, MeshSnapshot } from '../model/types.ts';
import { ControlPlaneMetrics } from '../observe/control-plane-metrics.ts';
import { logger } from '../observe/log.ts';
import { analyzeRoute, meshAnalyzer, statusReporter } from './api/analyze.ts';
import { type ApiRoute, ApiServer } from './api/server.ts';
import type { BootstrapResponse } from './api/types.ts';
import { caRoutes } from './ca/api.ts';
import { type CaOptions, CaService } from './ca/ca-service.ts';
import { CompiledStore } from './compiled-store.ts';
import { DEFAULT_GRACE_MS } from './registry/memory.ts';
import type { WorkloadRegistry } from './registry/registry.ts';
import { FileStore } from './store/file-store.ts';
import { FileBackedRegistry } from './store/registry-file.ts';
import type { Store } from './store/store.ts';
import type { XdsServer } from './xds/types.ts';
import {
  type RotatingServerCredentials,
  startXdsServerIdentity,
  type XdsServerIdentity,
} from './xds/xds-credentials.ts';

/** A listen address. */
export interface HostPort {
  host: string;
  /** 0 picks a free port. */
  port: number;
}

export interface ControlPlaneConfig {
  /** Directory for durable state; the embedded store lives in `<dataDir>/store`. */
  dataDir: string;
  /** Where the HTTP/JSON API listens (`--api`). */
  api: HostPort;
  /** Where the ADS gRPC server listens (`--xds`), mutual TLS. */
  xds: HostPort;
  /** A plaintext, read-only xDS port (`--xds-plaintext`, loopback); absent: none. */
  xdsPlaintext?: HostPort;
  /** How long the xDS server waits for more changes before pushing (milliseconds, `--push-debounce`). */
  pushDebounceMs: number;
  /** How long a disconnected proxy's workload stays registered (milliseconds). */
  registryGraceMs: number;
  /** Mesh-wide settings; absent fields take Istio's defaults (trust domain `cluster.local`). */
  mesh?: Partial<MeshSettings>;
  /** The certificate authority (`--ca-cert`, `--ca-key`, `--ca-chain`, `--cert-ttl`); default: a generated root. */
  ca?: CaOptions;
  /** How often the proxies' metrics are scraped for the traffic view (`--telemetry-interval`, default 10 s). */
  telemetryIntervalMs?: number;
  /** `--prometheus`: answer the traffic view from this Prometheus instead of scraping the proxies. */
  prometheusUrl?: string;
}

/** What the factories of optional parts (xDS server, extra API routes) get from the control plane. */
export interface XdsServerContext {
  config: ControlPlaneConfig;
  registry: WorkloadRegistry;
  store: Store;
  /** The control plane's /metrics (the xDS server reports pushes and NACKs there). */
  metrics: ControlPlaneMetrics;
  /** The xDS server's mutual-TLS credentials (the control plane's own certificate) and trust domain. */
  tls?: { credentials: RotatingServerCredentials; trustDomain: string };
  /** The stored resources, compiled (its `counters` say how many compiles the rebuilds cost). */
  compiled: CompiledStore;
  /** Whether a request comes from loopback or carries the operator token (for reads that need it, e.g. tap). */
  operatorAccess?(req: IncomingMessage): 'allowed' | 'missing-token' | 'invalid-token';
}

/**
 * Replaceable parts. `createXdsServer` is the seam for the ADS server (src/control/xds/server.ts):
 * when given, `start()` creates it, binds it to `config.xds` and hands it every snapshot; without
 * it the control plane serves no xDS and `/api/v1/bootstrap` answers 503. `openStore` is the
 * seam for another Store implementation (etcd); the default is the FileStore.
 */
export interface ControlPlaneParts {
  createXdsServer?: (context: XdsServerContext) => XdsServer;
  /** More API routes (e.g. the CA's), built once the store and registry exist. */
  apiRoutes?: (context: XdsServerContext) => ApiRoute[];
  openStore?: (config: ControlPlaneConfig) => Promise<Store>;
  /**
   * The workload registry kept with the store: remembered across restarts (the default, in the
   * file store's directory) or shared by replicas (etcd). It must hold the workloads of the last
   * run until they re-join or their grace period ends, so a restart drops no endpoint.
   */
  openRegistry?: (config: ControlPlaneConfig, store: Store) => Promise<WorkloadRegistry>;
}

/** Addresses a started control plane serves on. */
export interface ControlPlaneAddresses {
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:15080`. */
  apiUrl: string;
  /** `host:port` of the ADS server, undefined when none runs. */
  xdsAddress: string | undefined;
  /** `host:port` of the plaintext read-only xDS port, when one was asked for. */
  xdsPlaintextAddress?: string;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** Wires the parts of a control plane; see the `XdsServerContext` seam for the ADS server. */
export class ControlPlane {
  readonly config: ControlPlaneConfig;
  readonly #parts: ControlPlaneParts;
  readonly #mesh: MeshSettings;
  readonly #log = logger({ component: 'control-plane' });
  readonly #listeners = new Set<(snapshot: MeshSnapshot) => void>();
  readonly #unsubscribe: (() => void)[] = [];
  #store: Store | undefined;
  #compiled: CompiledStore;
  #registry: WorkloadRegistry | undefined;
  #ca: CaService | undefined;
  #api: ApiServer | undefined;
  #xds: XdsServer | undefined;
  #xdsIdentity: XdsServerIdentity | undefined;
  #snapshot: MeshSnapshot | undefined;
  #version = 0;
  #rebuild: 'idle' | 'scheduled' = 'idle';
  #addresses: ControlPlaneAddresses | undefined;
  readonly #metrics = new ControlPlaneMetrics({
    proxies: () => this.#xds?.status().length ?? 0,
    storeRevision: () => this.#store?.revision() ?? 0,
    rejectedResources: () => {
      const byKind = new Map<string, number>();
      for (const r of this.#snapshot?.rejected ?? []) byKind.set(r.kind, (byKind.get(r.kind) ?? 0) + 1);
      return byKind;
    },
    services: () => this.#snapshot?.services.size ?? 0,
    virtualServices: () => this.#snapshot?.virtualServices.length ?? 0,
  });
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';

  constructor(config: ControlPlaneConfig, parts: ControlPlaneParts = {}) {
    this.config = config;
    this.#parts = parts;
    this.#mesh = { ...DEFAULT_MESH, ...config.mesh };
    this.#compiled = new CompiledStore(this.#mesh);
  }

  /** Opens the store, builds the first snapshot, and starts the API (and xDS); resolves when ready. */
  async start(): Promise<ControlPlaneAddresses> {
    if (this.#state !== 'new') throw new Error(`the control plane was already started (${this.#state})`);
    this.#state = 'starting';
    try {
      const store = await (this.#parts.openStore ?? openFileStore)(this.config);
      this.#store = store;
      const ca = await CaService.open({
        dataDir: this.config.dataDir,
        trustDomain: this.#mesh.trustDomain,
        ...this.config.ca,
      });
      this.#ca = ca;
      const registry = await (this.#parts.openRegistry ?? openFileRegistry)(this.config, store);
      this.#registry = registry;
      this.#compiled.load(store.list());
      this.#rebuildNow();
      this.#unsubscribe.push(
        store.watch((events) => {
          this.#compiled.apply(events);
          this.#scheduleRebuild();
        }),
        registry.onChange(() => this.#scheduleRebuild()),
      );

      const analysis = { store, workloads: () => registry.list(), mesh: this.#mesh };
      const operatorAccess = (req: IncomingMessage) => {
        const access = ca.operatorToken.authorizeWrite({
          remoteAddress: req.socket.remoteAddress,
          authorization: req.headers.authorization,
        });
        return access === 'allowed-loopback' || access === 'allowed-token' ? 'allowed' : access;
      };
      const analyzer = meshAnalyzer(analysis);
      this.#api = new ApiServer(this.config.api, {
        store,
        analyzer,
        status: statusReporter(analysis),
        bootstrap: (localAddress) => this.#bootstrap(localAddress),
        authorizeWrite: operatorAccess,
        publicWritePaths: ['/api/v1/certificates'],
        routes: [
          ...countSignings(caRoutes(ca.api), this.#metrics),
          metricsRoute(this.#metrics),
          analyzeRoute(analyzer),
          ...(this.#parts.apiRoutes?.({
            config: this.config,
            registry,
            store,
            metrics: this.#metrics,
            compiled: this.#compiled,
            operatorAccess,
          }) ?? []),
        ],
      });
      const apiPort = await this.#api.listen();
      if (!isLoopback(this.config.api.host))
        this.#log.warn(
          { api: this.config.api.host },
          `the API listens beyond loopback: writes from other hosts need the operator token in ${ca.operatorToken.path}`,
        );

      let xdsAddress: string | undefined;
      let xdsPlaintextAddress: string | undefined;
      if (this.#parts.createXdsServer) {
        this.#xdsIdentity = await startXdsServerIdentity(ca.authority);
        this.#xds = this.#parts.createXdsServer({
          config: this.config,
          registry,
          store,
          metrics: this.#metrics,
          tls: { credentials: this.#xdsIdentity.credentials, trustDomain: this.#mesh.trustDomain },
          compiled: this.#compiled,
        });
        const xdsPort = await this.#xds.listen(this.config.xds.host, this.config.xds.port);
        xdsAddress = `${urlHost(this.config.xds.host)}:${xdsPort}`;
        const plain = this.config.xdsPlaintext;
        if (plain && this.#xds.listenPlaintext) {
          const port = await this.#xds.listenPlaintext(plain.host, plain.port);
          xdsPlaintextAddress = `${urlHost(plain.host)}:${port}`;
        }
        this.#xds.setSnapshot(this.snapshot());
      }
      this.#addresses = {
        apiUrl: `http://${urlHost(this.config.api.host)}:${apiPort}`,
        xdsAddress,
        xdsPlaintextAddress,
      };
      this.#api.setState('ready');
      this.#state = 'running';
      this.#log.info(
        { api: this.#addresses.apiUrl, xds: xdsAddress ?? 'not served', revision: store.revision() },
        'control plane ready',
      );
      return this.#addresses;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** The current mesh snapshot (built from the store and registry; rebuilt after every change). */
  snapshot(): MeshSnapshot {
    if (!this.#snapshot) throw new Error('the control plane has not started');
    return this.#snapshot;
  }

  /** Calls `listener` with every new snapshot; returns a function that stops it. */
  onSnapshot(listener: (snapshot: MeshSnapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** The compiled resources (what each stored resource means; `counters` says how much was compiled). */
  get compiled(): CompiledStore {
    return this.#compiled;
  }

  get store(): Store {
    if (!this.#store) throw new Error('the control plane has not started');
    return this.#store;
  }

  /** The CA, bootstrap tokens and operator token (e.g. `ca.mintToken(...)` for sidecars started in-process). */
  get ca(): CaService {
    if (!this.#ca) throw new Error('the control plane has not started');
    return this.#ca;
  }

  get registry(): WorkloadRegistry {
    if (!this.#registry) throw new Error('the control plane has not started');
    return this.#registry;
  }

  get addresses(): ControlPlaneAddresses | undefined {
    return this.#addresses;
  }

  /** Stops serving (API first, so clients see 503/closed rather than half a shutdown), then closes the store. */
  async stop(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#state = 'stopping';
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#listeners.clear();
    const steps: [string, (() => Promise<void> | void) | undefined][] = [
      ['api', this.#api && (() => this.#api!.close())],
      ['xds', this.#xds && (() => this.#xds!.close())],
      ['xds-identity', this.#xdsIdentity && (() => this.#xdsIdentity!.stop())],
      ['registry', this.#registry && (() => this.#registry!.close())],
      ['store', this.#store && (() => this.#store!.close())],
    ];
    for (const [part, step] of steps) {
      if (!step) continue;
      try {
        await step();
      } catch (err) {
        this.#log.error({ err, part }, 'error while stopping');
      }
    }
    this.#state = 'stopped';
    this.#log.info('control plane stopped');
  }

  /** Coalesces a burst of changes (one apply, many joins) into one rebuild after the current turn. */
  #scheduleRebuild(): void {
    if (this.#rebuild === 'scheduled') return;
    this.#rebuild = 'scheduled';
    setImmediate(() => {
      this.#rebuild = 'idle';
      if (this.#state === 'starting' || this.#state === 'running') this.#rebuildNow();
    });
  }

  #rebuildNow(): void {
    const version = this.#version + 1;
    let next: MeshSnapshot;
    try {
      const workloads = this.#registry!.list();
      const config = this.#compiled.view(workloads);
      next = buildSnapshot({ config, workloads, version, previous: this.#snapshot });
    } catch (err) {
      // Resources were compiled on apply, so this is a bug; keep serving the last good snapshot.
      this.#log.error({ err, version }, 'building the mesh snapshot failed; keeping the previous one');
      if (this.#snapshot) return;
      throw err;
    }
    if (next.rejected?.length)
      this.#log.warn({ version, rejected: next.rejected }, 'stored resources left out of the mesh snapshot');
    this.#version = version;
    this.#snapshot = next;
    this.#xds?.setSnapshot(next);
    for (const listener of [...this.#listeners]) {
      try {
        listener(next);
      } catch (err) {
        this.#log.error({ err }, 'snapshot listener threw');
      }
    }
    this.#log.debug({ version, revision: this.#store!.revision() }, 'mesh snapshot rebuilt');
  }

  #bootstrap(localAddress: string | undefined): BootstrapResponse | undefined {
    const xds = this.#addresses?.xdsAddress;
    if (!xds) return undefined;
    const port = xds.slice(xds.lastIndexOf(':') + 1);
    const host =
      isWildcard(this.config.xds.host) && localAddress
        ? urlHost(localAddress.replace(/^::ffff:/, ''))
        : urlHost(this.config.xds.host);
    return {
      xdsAddress: `${host}:${port}`,
      trustDomain: this.#mesh.trustDomain,
      controlPlaneIdentity: this.#xdsIdentity?.spiffeId,
      xdsPlaintextAddress: this.#addresses?.xdsPlaintextAddress,
    };
  }
}

/** `GET /metrics`: the control plane's own metrics, Prometheus text format. */
function metricsRoute(metrics: ControlPlaneMetrics): ApiRoute {
  return {
    path: '/metrics',
    methods: {
      GET: ({ res }) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(metrics.registry.render());
      },
    },
  };
}

/** Counts certificate signing requests and their outcomes around the CA's signing route. */
function countSignings(routes: ApiRoute[], metrics: ControlPlaneMetrics): ApiRoute[] {
  return routes.map((route) => {
    const post = route.methods.POST;
    if (route.path !== '/api/v1/certificates' || !post) return route;
    return {
      ...route,
      methods: {
        ...route.methods,
        POST: async (request) => {
          metrics.csr.value++;
          try {
            await post(request);
            metrics.certIssued.value++;
          } catch (err) {
            metrics.csrErrors.value++;
            throw err;
          }
        },
      },
    };
  });
}

function openFileStore(config: ControlPlaneConfig): Promise<Store> {
  return FileStore.open({ dir: storeDir(config) });
}

function openFileRegistry(config: ControlPlaneConfig): Promise<WorkloadRegistry> {
  return FileBackedRegistry.open(storeDir(config), config.registryGraceMs ?? DEFAULT_GRACE_MS);
}

function storeDir(config: ControlPlaneConfig): string {
  return join(config.dataDir, 'store');
}
