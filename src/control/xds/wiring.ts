// Plugs the ADS server into the ControlPlane: its factory seam and the `GET /api/v1/proxies` route.
import { readFileSync } from 'node:fs';
import type { Workload } from '../../model/types.ts';
import { sendJson } from '../api/http.ts';
import type { ApiRoute } from '../api/server.ts';
import type { CompiledStore } from '../compiled-store.ts';
import type { ControlPlaneParts } from '../control-plane.ts';
import { adminProxies } from '../telemetry/proxy-admin.ts';
import { telemetryRoutes } from '../telemetry/routes.ts';
import { StatsClientTls } from '../telemetry/stats-client.ts';
import { MeshTelemetry } from '../telemetry/telemetry.ts';
import { prometheusSdRoute } from './prometheus-sd.ts';
import { type AdsServer, createXdsServer } from './server.ts';
import type { ProxiesResponse, PushStatsResponse, XdsServer } from './types.ts';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** `GET /api/v1/proxies`: what every connected xDS client was sent and has ACKed (`weft proxy-status`). */
export function proxiesRoute(server: () => AdsServer | undefined): ApiRoute {
  return {
    path: '/api/v1/proxies',
    methods: {
      GET: ({ res }) => {
        const body: ProxiesResponse = { controlPlaneVersion: VERSION, proxies: server()?.status() ?? [] };
        sendJson(res, 200, body);
      },
    },
  };
}

/** `GET /api/v1/debug/push`: compile, generator and push counters (what a change or a join cost). */
export function pushStatsRoute(server: () => AdsServer | undefined, compiled: CompiledStore): ApiRoute {
  return {
    path: '/api/v1/debug/push',
    methods: {
      GET: ({ res }) => {
        const counters = server()?.counters;
        const body: PushStatsResponse = {
          compiles: compiled.counters.compiles,
          assemblies: compiled.counters.assemblies,
          pushRounds: counters?.pushRounds ?? 0,
          edsOnlyRounds: counters?.edsOnlyRounds ?? 0,
          pushes: counters?.pushes ?? 0,
          generated: Object.fromEntries(counters?.generated ?? []),
        };
        sendJson(res, 200, body);
      },
    },
  };
}

/** One row of `GET /api/v1/workloads`: a workload the registry holds, as served to proxies. */
export interface WorkloadView {
  namespace: string;
  name: string;
  address: string;
  /** The sidecar's inbound port (mesh traffic), when the workload has a weft sidecar. */
  inboundPort?: number;
  serviceAccount: string;
  labels: Readonly<Record<string, string>>;
  health: 'HEALTHY' | 'UNHEALTHY';
  source: string;
}

/** `GET /api/v1/workloads`: the registry's workloads and each service host's endpoints (`weft get workloads|endpoints`). */
export function workloadsRoute(server: () => AdsServer | undefined): ApiRoute {
  return {
    path: '/api/v1/workloads',
    methods: {
      GET: ({ res }) => {
        const snapshot = server()?.currentSnapshot();
        const view = (w: Workload): WorkloadView => ({
          namespace: w.namespace,
          name: w.name,
          address: w.address,
          inboundPort: w.sidecar?.inboundPort,
          serviceAccount: w.serviceAccount,
          labels: w.labels,
          health: w.health,
          source: w.source,
        });
        const endpoints = [...(snapshot?.endpointsByHost ?? new Map<string, readonly Workload[]>())]
          .map(([host, workloads]) => ({ host, endpoints: workloads.map(view) }))
          .sort((a, b) => a.host.localeCompare(b.host));
        sendJson(res, 200, { workloads: (snapshot?.workloads ?? []).map(view), endpoints });
      },
    },
  };
}

/**
 * The control plane's xDS parts: an ADS server on `--xds` fed with every snapshot (debounced by
 * `--push-debounce`), registering sidecars in the control plane's registry, and its status route.
 */
export function xdsControlPlaneParts(): Pick<ControlPlaneParts, 'createXdsServer' | 'apiRoutes'> {
  let server: AdsServer | undefined;
  let telemetry: MeshTelemetry | undefined;
  let statsTls: StatsClientTls | undefined;
  const proxies = () => adminProxies(server?.connectedProxies() ?? [], statsTls);
  return {
    createXdsServer: ({ config, registry, metrics, tls }) => {
      if (tls) statsTls = new StatsClientTls(() => tls.credentials.current(), tls.trustDomain);
      server = createXdsServer({ registry, debounceMs: config.pushDebounceMs, metrics, tls });
      return telemetry ? withTelemetry(server, telemetry, () => statsTls?.close()) : server;
    },
    apiRoutes: ({ compiled, config, store, operatorAccess }) => {
      telemetry = new MeshTelemetry(proxies, config.telemetryIntervalMs, config.prometheusUrl);
      return [
        proxiesRoute(() => server),
        prometheusSdRoute(() => server),
        pushStatsRoute(() => server, compiled),
        workloadsRoute(() => server),
        ...telemetryRoutes({
          telemetry,
          proxies,
          status: () => server?.status() ?? [],
          store,
          access: operatorAccess ?? (() => 'missing-token'),
        }),
      ];
    },
  };
}

/** The ADS server with the traffic view's scraper started with it and stopped (its stats-port clients closed) before it closes. */
function withTelemetry(server: AdsServer, telemetry: MeshTelemetry, closeClients: () => void): XdsServer {
  telemetry.start();
  return {
    listen: (host, port) => server.listen(host, port),
    listenPlaintext: (host, port) => server.listenPlaintext(host, port),
    setSnapshot: (snapshot) => server.setSnapshot(snapshot),
    status: () => server.status(),
    close: async () => {
      await telemetry.stop();
      closeClients();
      await server.close();
    },
  };
}
