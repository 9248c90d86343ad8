// API routes of the traffic view: graph, stat, service detail, proxies with admin facts, tap, and the proxy admin relay.
import type { IncomingMessage } from 'node:http';
import { parseDuration } from '../../config/duration.ts';
import { BadRequestError, UnauthorizedError } from '../../errors.ts';
import { TYPE_URL } from '../../xds/type-urls.ts';
import { sendJson } from '../api/http.ts';
import type { ApiRoute } from '../api/server.ts';
import type { Store } from '../store/store.ts';
import type { ProxyStatus } from '../xds/types.ts';
import { type AdminProxy, adminJson, findProxy, podOf, RELAYED } from './proxy-admin.ts';
import { relayTap } from './tap-relay.ts';
import { HISTORY_SLOTS, MAX_SERIES, type MeshTelemetry } from './telemetry.ts';

/** What the routes read besides the telemetry. */
export interface TelemetryRouteContext {
  telemetry: MeshTelemetry;
  proxies: () => AdminProxy[];
  status: () => ProxyStatus[];
  store: Store;
  /** loopback or operator token: 'allowed'; else why not. */
  access(req: IncomingMessage): 'allowed' | 'missing-token' | 'invalid-token';
}

/** `?window=5m` in seconds (default 60 s, at most the history kept). */
function windowSeconds(url: URL, telemetry: MeshTelemetry): number {
  const text = url.searchParams.get('window');
  if (!text) return 60;
  const d = parseDuration(text);
  if ('error' in d) throw new BadRequestError(`window: ${d.error}`);
  return Math.min(d.ms / 1000, (HISTORY_SLOTS - 1) * (telemetry.intervalMs / 1000));
}

/** Uptime and certificate expiry from a proxy's admin port (null when it does not answer within 2 s). */
async function adminFacts(
  p: AdminProxy,
): Promise<{ uptimeSeconds: number | null; certificateExpiry: string | null }> {
  const [info, certs] = await Promise.allSettled([
    adminJson(p, '/server_info', 2000),
    adminJson(p, '/certs', 2000),
  ]);
  const uptime =
    info.status === 'fulfilled'
      ? (info.value as { uptimeCurrentEpoch?: string }).uptimeCurrentEpoch
      : undefined;
  const chains =
    certs.status === 'fulfilled'
      ? ((certs.value as { certificates?: { certChain?: { expirationTime: string }[] }[] }).certificates ??
        [])
      : [];
  const expiry = chains
    .flatMap((c) => c.certChain ?? [])
    .map((c) => c.expirationTime)
    .sort()[0];
  return { uptimeSeconds: uptime ? Number.parseInt(uptime, 10) : null, certificateExpiry: expiry ?? null };
}

const SYNC_TYPES: Record<string, string> = {
  CDS: TYPE_URL.cluster,
  LDS: TYPE_URL.listener,
  EDS: TYPE_URL.endpoint,
  RDS: TYPE_URL.route,
  SDS: TYPE_URL.secret,
};

function syncOf(entry: ProxyStatus['types'][string] | undefined): string {
  if (!entry?.sent) return 'NOT SENT';
  if (entry.nack) return 'NACK';
  return entry.acked === entry.sent ? 'SYNCED' : 'STALE';
}

async function proxiesView(ctx: TelemetryRouteContext) {
  const byId = new Map(ctx.proxies().map((p) => [p.id, p]));
  const rows = await Promise.all(
    ctx.status().map(async (s) => {
      const p = byId.get(s.nodeId);
      const facts = p ? await adminFacts(p) : { uptimeSeconds: null, certificateExpiry: null };
      const nacks = Object.values(s.types).flatMap((t) => (t.nack ? [t.nack] : []));
      return {
        nodeId: s.nodeId,
        name: podOf(s.nodeId),
        workload: s.cluster || p?.proxy.cluster || '',
        namespace: p?.proxy.namespace ?? '',
        version: p?.proxy.labels.version ?? '',
        role: p?.proxy.role ?? 'grpc',
        admin: p?.admin ?? null,
        connectedAt: s.connectedAt,
        sync: Object.fromEntries(
          Object.entries(SYNC_TYPES).map(([name, url]) => [name, syncOf(s.types[url])]),
        ),
        lastNack: nacks.sort((a, b) => (a.at < b.at ? 1 : -1))[0] ?? null,
        ...facts,
      };
    }),
  );
  return { proxies: rows };
}

export function telemetryRoutes(ctx: TelemetryRouteContext): ApiRoute[] {
  const t = ctx.telemetry;
  return [
    {
      path: '/api/v1/telemetry/status',
      methods: {
        GET: ({ res }) =>
          sendJson(res, 200, {
            source: t.prometheus ? 'prometheus' : 'scraper',
            prometheus: t.prometheus?.url,
            intervalMs: t.intervalMs,
            historySlots: HISTORY_SLOTS,
            series: t.history.size,
            maxSeries: MAX_SERIES,
            evictedSeries: t.history.evicted,
            intervals: t.history.ticks,
            lastRound: t.collector.lastRound,
          }),
      },
    },
    {
      path: '/api/v1/telemetry/graph',
      methods: { GET: async ({ url, res }) => sendJson(res, 200, await t.graph(windowSeconds(url, t))) },
    },
    {
      path: '/api/v1/telemetry/stat',
      methods: {
        GET: async ({ url, res }) => {
          const kind = url.searchParams.get('kind') ?? 'deploy';
          if (kind !== 'deploy' && kind !== 'svc') throw new BadRequestError('kind must be deploy or svc');
          const seconds = windowSeconds(url, t);
          const ns = url.searchParams.get('namespace');
          const name = url.searchParams.get('name');
          const view = await t.stat(kind, seconds);
          const rows = view.rows.filter((r) => (!ns || r.namespace === ns) && (!name || r.name === name));
          sendJson(res, 200, { kind, windowSeconds: view.windowSeconds, rows });
        },
      },
    },
    {
      path: '/api/v1/telemetry/services/:namespace/:name',
      methods: {
        GET: async ({ url, params, res }) =>
          sendJson(res, 200, await t.service(params[1], params[0], windowSeconds(url, t), ctx.store.list())),
      },
    },
    {
      path: '/api/v1/telemetry/proxies',
      methods: { GET: async ({ res }) => sendJson(res, 200, await proxiesView(ctx)) },
    },
    {
      path: '/api/v1/tap',
      methods: {
        GET: async ({ req, url, res }) => {
          const access = ctx.access(req);
          if (access !== 'allowed')
            throw new UnauthorizedError(
              access === 'missing-token'
                ? 'tap from beyond the control plane host needs the operator token: set WEFT_TOKEN to the contents of <data-dir>/operator.token'
                : 'the operator token (WEFT_TOKEN) is not valid for this control plane',
            );
          await relayTap(ctx.proxies(), url, req, res);
        },
      },
    },
    {
      path: '/api/v1/proxies/:name/admin/:endpoint',
      methods: {
        GET: async ({ params, res }) => {
          const endpoint = params[1];
          if (!(RELAYED as readonly string[]).includes(endpoint))
            throw new BadRequestError(
              `admin endpoint ${endpoint} is not relayed; one of ${RELAYED.join(', ')}`,
            );
          const proxy = findProxy(ctx.proxies(), params[0]);
          const query = endpoint === 'clusters' || endpoint === 'listeners' ? '?format=json' : '';
          sendJson(res, 200, await adminJson(proxy, `/${endpoint}${query}`));
        },
      },
    },
  ];
}
