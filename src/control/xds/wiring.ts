// Plugs the ADS server into the ControlPlane: its factory seam and the `GET /api/v1/proxies` route.
import { readFileSync } from 'node:fs';
import { sendJson } from '../api/http.ts';
import type { ApiRoute } from '../api/server.ts';
import type { CompiledStore } from '../compiled-store.ts';
import type { ControlPlaneParts } from '../control-plane.ts';
import { prometheusSdRoute } from './prometheus-sd.ts';
import { type AdsServer, createXdsServer } from './server.ts';
import type { ProxiesResponse, PushStatsResponse } from './types.ts';

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

/**
 * The control plane's xDS parts: an ADS server on `--xds` fed with every snapshot (debounced by
 * `--push-debounce`), registering sidecars in the control plane's registry, and its status route.
 */
export function xdsControlPlaneParts(): Pick<ControlPlaneParts, 'createXdsServer' | 'apiRoutes'> {
  let server: AdsServer | undefined;
  return {
    createXdsServer: ({ config, registry, metrics, tls }) => {
      server = createXdsServer({ registry, debounceMs: config.pushDebounceMs, metrics, tls });
      return server;
    },
    apiRoutes: ({ compiled }) => [
      proxiesRoute(() => server),
      prometheusSdRoute(() => server),
      pushStatsRoute(() => server, compiled),
    ],
  };
}
