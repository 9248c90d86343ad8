// `weft proxy-status`: each connected xDS client and whether it runs the configuration last sent (istioctl's table).
import { type Command, Option } from 'commander';
import type { ProxiesResponse, ProxyStatus } from '../control/xds/types.ts';
import { environment } from '../env.ts';
import { TYPE_URL } from '../xds/type-urls.ts';
import { ApiClient } from './client.ts';

interface ProxyStatusOptions {
  server: string;
  output?: 'json';
}

/** The columns istioctl shows, in its order. */
const COLUMNS: [string, string][] = [
  ['CDS', TYPE_URL.cluster],
  ['LDS', TYPE_URL.listener],
  ['EDS', TYPE_URL.endpoint],
  ['RDS', TYPE_URL.route],
];

/** One type's state: SYNCED (acked what was sent), STALE (sent, not acked yet), NACK (rejected), NOT SENT. */
export function syncState(entry: ProxyStatus['types'][string] | undefined): string {
  if (!entry?.sent) return 'NOT SENT';
  if (entry.nack) return 'NACK';
  return entry.acked === entry.sent ? 'SYNCED' : 'STALE';
}

function pad(rows: string[][]): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

/** Where the proxy's admin endpoints are: `127.0.0.1:15000` on the proxy's host (its stream's peer), or `-`. */
export function adminAddress(p: ProxyStatus): string {
  if (p.adminPort === undefined) return '-';
  const host = p.peer
    .replace(/^ipv[46]:/, '')
    .replace(/:\d+$/, '')
    .replace(/^\[(.*)\]$/, '$1');
  const loopback = host === '' || host.startsWith('127.') || host === '::1' || host === 'localhost';
  return loopback ? `127.0.0.1:${p.adminPort}` : `${host} (127.0.0.1:${p.adminPort} there)`;
}

/** The table, then one line per rejected type with the client's reason. */
export function formatProxyStatus(response: ProxiesResponse): string {
  if (response.proxies.length === 0) return 'No xDS clients are connected.';
  const rows = [
    ['NAME', 'CLUSTER', ...COLUMNS.map(([name]) => name), 'ADMIN', 'PILOT VERSION'],
    ...response.proxies.map((p) => [
      p.nodeId,
      p.cluster || '-',
      ...COLUMNS.map(([, url]) => syncState(p.types[url])),
      adminAddress(p),
      response.controlPlaneVersion,
    ]),
  ];
  const nacks: string[] = [];
  for (const p of response.proxies) {
    for (const [name, url] of COLUMNS) {
      const nack = p.types[url]?.nack;
      if (nack) nacks.push(`${p.nodeId} ${name} NACK (version ${nack.version}, ${nack.at}): ${nack.message}`);
    }
  }
  return nacks.length === 0 ? pad(rows) : `${pad(rows)}\n\n${nacks.join('\n')}`;
}

export function register(program: Command): void {
  program
    .command('proxy-status')
    .description('show every xDS client of the control plane and whether it is in sync (SYNCED, STALE, NACK)')
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .addOption(new Option('-o, --output <format>', 'print the raw status as json').choices(['json']))
    .action(async (opts: ProxyStatusOptions) => {
      const response = await new ApiClient(opts.server).proxies();
      if (opts.output === 'json') process.stdout.write(`${JSON.stringify(response, null, 2)}\n`);
      else process.stdout.write(`${formatProxyStatus(response)}\n`);
    });
}
