// `weft proxy-config clusters|listeners|routes|endpoints|secret|bootstrap PROXY`: a proxy's configuration in force, as istioctl shows it.
import { type Command, Option } from 'commander';
import { stringify } from 'yaml';
import { environment } from '../env.ts';
import { UsageError } from '../errors.ts';
import { TYPE_URL } from '../xds/type-urls.ts';
import { ApiClient } from './client.ts';
import { table } from './table.ts';

const TYPES = ['clusters', 'listeners', 'routes', 'endpoints', 'secret', 'bootstrap'] as const;
type ConfigType = (typeof TYPES)[number];

interface ProxyConfigOptions {
  server: string;
  output?: 'json' | 'yaml';
}

type Dump = {
  configs: { typeUrl: string; resources: { name: string; resource: Record<string, unknown> }[] }[];
};
type Row = Record<string, unknown>;

function resources(dump: Dump, typeUrl: string): Row[] {
  return (dump.configs.find((c) => c.typeUrl === typeUrl)?.resources ?? []).map((r) => ({
    name: r.name,
    ...r.resource,
  }));
}

/** What the view shows, fetched through the control plane's relay of the proxy's admin port. */
async function fetchView(client: ApiClient, type: ConfigType, proxy: string): Promise<unknown> {
  const admin = (endpoint: string) =>
    client.read<unknown>(`/api/v1/proxies/${encodeURIComponent(proxy)}/admin/${endpoint}`);
  switch (type) {
    case 'clusters':
      return resources((await admin('config_dump')) as Dump, TYPE_URL.cluster);
    case 'listeners':
      return resources((await admin('config_dump')) as Dump, TYPE_URL.listener);
    case 'routes':
      return resources((await admin('config_dump')) as Dump, TYPE_URL.route);
    case 'endpoints':
      return ((await admin('clusters')) as { clusterStatuses: Row[] }).clusterStatuses;
    case 'secret':
      return ((await admin('certs')) as { certificates: Row[] }).certificates;
    case 'bootstrap':
      return admin('server_info');
  }
}

const str = (v: unknown) => (v === undefined || v === null || v === '' ? '-' : String(v));

function clusterRows(list: Row[]): string[][] {
  return list.map((c) => {
    const name = String(c.name);
    const parts = name.split('|');
    const [dir, port, subset, fqdn] = parts.length === 4 ? parts : ['-', '-', '-', name];
    return [
      fqdn,
      port || '-',
      subset || '-',
      dir.toUpperCase(),
      str(c.type ?? (c.edsClusterConfig ? 'EDS' : undefined)),
    ];
  });
}

function listenerRows(list: Row[]): string[][] {
  return list.map((l) => {
    const a = (l.address as { socketAddress?: { address?: string; portValue?: number } } | undefined)
      ?.socketAddress;
    const chains = (l.filterChains as unknown[] | undefined)?.length ?? 0;
    return [String(l.name), str(a?.address), str(a?.portValue), String(chains)];
  });
}

function routeRows(list: Row[]): string[][] {
  const rows: string[][] = [];
  for (const r of list) {
    for (const vh of (r.virtualHosts as Row[] | undefined) ?? []) {
      const domains = (vh.domains as string[] | undefined) ?? [];
      for (const route of (vh.routes as Row[] | undefined) ?? [{}]) {
        const m = (route.match ?? {}) as Record<string, string>;
        rows.push([
          String(r.name),
          str(vh.name),
          domains.slice(0, 2).join(',') || '-',
          m.prefix ?? m.path ?? m.safeRegex ?? '/*',
        ]);
      }
    }
  }
  return rows;
}

function endpointRows(list: Row[]): string[][] {
  const rows: string[][] = [];
  for (const c of list)
    for (const h of (c.hostStatuses as Row[] | undefined) ?? []) {
      const a = (h.address as { socketAddress: { address: string; portValue: number } }).socketAddress;
      const health = h.healthStatus as { edsHealthStatus?: string; failedOutlierCheck?: boolean };
      rows.push([
        `${a.address}:${a.portValue}`,
        h.healthy ? 'HEALTHY' : str(health.edsHealthStatus),
        health.failedOutlierCheck ? 'FAILED' : 'OK',
        String(c.name),
      ]);
    }
  return rows;
}

function secretRows(list: Row[]): string[][] {
  return list.flatMap((s) => {
    const certs =
      ((s.certChain ?? s.caCert) as { serialNumber: string; expirationTime: string }[] | undefined) ?? [];
    const kind = s.certChain ? 'Cert Chain' : 'CA';
    return certs
      .slice(0, 1)
      .map((c) => [String(s.name), kind, c.serialNumber.slice(0, 16), c.expirationTime]);
  });
}

const HEADERS: Record<Exclude<ConfigType, 'bootstrap'>, string[]> = {
  clusters: ['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE'],
  listeners: ['NAME', 'ADDRESS', 'PORT', 'CHAINS'],
  routes: ['NAME', 'VHOST', 'DOMAINS', 'MATCH'],
  endpoints: ['ENDPOINT', 'STATUS', 'OUTLIER', 'CLUSTER'],
  secret: ['RESOURCE NAME', 'TYPE', 'SERIAL', 'NOT AFTER'],
};

export function formatProxyConfig(type: ConfigType, view: unknown): string {
  if (type === 'bootstrap') {
    const b = view as {
      node?: { id?: string };
      version?: string;
      state?: string;
      uptimeCurrentEpoch?: string;
      runtime?: string;
    };
    return table([
      ['FIELD', 'VALUE'],
      ['node id', str(b.node?.id)],
      ['version', str(b.version)],
      ['state', str(b.state)],
      ['uptime', str(b.uptimeCurrentEpoch)],
      ['runtime', str(b.runtime)],
    ]);
  }
  const list = view as Row[];
  const rows = {
    clusters: clusterRows,
    listeners: listenerRows,
    routes: routeRows,
    endpoints: endpointRows,
    secret: secretRows,
  }[type](list);
  return table([HEADERS[type], ...rows]);
}

export function register(program: Command): void {
  program
    .command('proxy-config')
    .description(
      "a proxy's configuration in force (clusters, listeners, routes, endpoints, secret, bootstrap), as istioctl proxy-config",
    )
    .argument('<type>', TYPES.join('|'))
    .argument('<proxy>', 'node id, pod name, or a unique part of the node id (weft proxy-status lists them)')
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .addOption(new Option('-o, --output <format>', 'machine-readable output').choices(['json', 'yaml']))
    .action(async (typeText: string, proxy: string, opts: ProxyConfigOptions) => {
      const type = (
        typeText === 'cluster' || typeText === 'listener' || typeText === 'route' || typeText === 'endpoint'
          ? `${typeText}s`
          : typeText
      ) as ConfigType;
      if (!TYPES.includes(type))
        throw new UsageError(`weft proxy-config ${typeText}: give one of ${TYPES.join(', ')}`);
      const view = await fetchView(new ApiClient(opts.server), type, proxy);
      const body =
        opts.output === 'json'
          ? JSON.stringify(view, null, 2)
          : opts.output === 'yaml'
            ? stringify(view).trimEnd()
            : formatProxyConfig(type, view);
      process.stdout.write(`${body}\n`);
    });
}
