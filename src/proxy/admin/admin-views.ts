// The admin views an Envoy user reaches for besides metrics: /stats (text), /listeners, /certs, /server_info, /help.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TYPE_URL } from '../../xds/type-urls.ts';
import { re2 } from '../common/re2.ts';
import type { ProxyCore } from '../proxy.ts';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
const STARTED = Date.now();

/** Every admin endpoint with one line on what it answers (`/help`, and any unknown path). */
export const ADMIN_ENDPOINTS: readonly [string, string][] = [
  ['/ready', '200 LIVE once the first configuration is in force, else 503'],
  ['/stats', 'every counter and gauge as `name{labels}: value` (?filter=RE2 regex, ?format=json)'],
  ['/stats/prometheus', 'the same in Prometheus text format'],
  ['/config_dump', 'the xDS resources in use, with versions and the last NACK per type'],
  ['/clusters', 'every cluster host with health and counters (?format=json)'],
  ['/listeners', 'the listeners and their addresses (?format=json)'],
  ['/certs', 'the workload certificate and trust bundle: serials, SPIFFE IDs, expiry (no keys)'],
  ['/server_info', 'version, state, uptime, node id, command line'],
  ['/tap', 'finished requests as NDJSON while connected (?service=&path=&method=&namespace=&max=&duration=)'],
  ['/logging', 'the log level; POST /logging?level=debug changes it at run time'],
  ['/help', 'this list'],
];

export function helpText(): string {
  const width = Math.max(...ADMIN_ENDPOINTS.map(([path]) => path.length));
  return `admin commands are:\n${ADMIN_ENDPOINTS.map(([p, what]) => `  ${p.padEnd(width)}  ${what}`).join('\n')}\n`;
}

/** `name{labels} value` samples of Prometheus text as Envoy's `/stats` lines, optionally filtered. */
export function statsFromPrometheus(text: string, filter: string | null, json: boolean): string {
  const match = filter ? re2().compile(filter) : undefined;
  const stats: { name: string; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const name = line.slice(0, space);
    if (match && !match.matcher(name).find()) continue;
    stats.push({ name, value: Number(line.slice(space + 1)) });
  }
  if (json) return `${JSON.stringify({ stats }, null, 2)}\n`;
  return stats.map((s) => `${s.name}: ${s.value}\n`).join('');
}

/** The listeners in force: `name::address:port`, or Envoy's `listener_statuses` JSON. */
export function renderListeners(core: ProxyCore, json: boolean): string {
  const rows = [...(core.accepted.get(TYPE_URL.listener)?.values() ?? [])].map((r) => {
    const body = r.body as { address?: { socketAddress?: { address?: string; portValue?: number } } };
    const a = body.address?.socketAddress;
    return { name: r.name, address: a?.address ?? '', port: a?.portValue ?? 0 };
  });
  if (json)
    return `${JSON.stringify(
      {
        listenerStatuses: rows.map((l) => ({
          name: l.name,
          localAddress: { socketAddress: { address: l.address, portValue: l.port } },
        })),
      },
      null,
      2,
    )}\n`;
  return rows.map((l) => `${l.name}::${l.address}:${l.port}\n`).join('');
}

/** One certificate as /certs shows it. */
function certificate(pem: string) {
  const x = new X509Certificate(pem);
  const days = Math.floor((Date.parse(x.validTo) - Date.now()) / 86_400_000);
  return {
    serialNumber: x.serialNumber,
    subject: x.subject,
    subjectAltNames: (x.subjectAltName ?? '').split(', ').filter((s) => s !== ''),
    validFrom: new Date(x.validFrom).toISOString(),
    expirationTime: new Date(x.validTo).toISOString(),
    daysUntilExpiration: days,
  };
}

/** Every PEM certificate in a bundle. */
function pems(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** The proxy's secrets as certificates (never a key): Envoy's /certs shape, by SDS name. */
export function renderCerts(core: ProxyCore): string {
  const certificates = core.secrets.entries().map(([name, stored]) => {
    const s = stored.secret;
    return s.kind === 'tls_certificate'
      ? { name, certChain: pems(s.certChainPem).map(certificate) }
      : { name, caCert: pems(s.trustedCaPem).map(certificate) };
  });
  return `${JSON.stringify({ certificates }, null, 2)}\n`;
}

/** What /server_info says about this process. */
export function renderServerInfo(ready: boolean, nodeId: string | undefined): string {
  return `${JSON.stringify(
    {
      version: `weft ${VERSION}`,
      state: ready ? 'LIVE' : 'PRE_INITIALIZING',
      uptimeCurrentEpoch: `${Math.floor((Date.now() - STARTED) / 1000)}s`,
      node: { id: nodeId ?? '' },
      runtime: `node ${process.version}`,
      commandLineOptions: process.argv.slice(2),
    },
    null,
    2,
  )}\n`;
}
