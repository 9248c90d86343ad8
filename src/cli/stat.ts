// `weft stat [deploy|svc] [NAME]`: success rate, requests per second, latency percentiles and TCP connections, as `linkerd viz stat`.
import { type Command, Option } from 'commander';
import type { StatRow } from '../control/telemetry/queries.ts';
import { environment } from '../env.ts';
import { UsageError } from '../errors.ts';
import { ApiClient } from './client.ts';
import { ms, percent, rps, table } from './table.ts';

const KINDS: Record<string, 'deploy' | 'svc'> = {
  deploy: 'deploy',
  deployment: 'deploy',
  workload: 'deploy',
  workloads: 'deploy',
  svc: 'svc',
  service: 'svc',
  services: 'svc',
};

interface StatOptions {
  server: string;
  namespace?: string;
  window: string;
  output?: 'json';
}

export interface StatResponse {
  kind: 'deploy' | 'svc';
  windowSeconds: number;
  rows: StatRow[];
}

export function formatStat(r: StatResponse): string {
  if (r.rows.length === 0) return `No traffic in the last ${r.windowSeconds}s.`;
  return table([
    ['NAME', 'NAMESPACE', 'SUCCESS', 'RPS', 'P50', 'P95', 'P99', 'TCP_CONN'],
    ...r.rows.map((row) => [
      row.name,
      row.namespace,
      percent(row.successRate),
      rps(row.rps),
      ms(row.p50Ms),
      ms(row.p95Ms),
      ms(row.p99Ms),
      String(row.tcpOpen),
    ]),
  ]);
}

export function register(program: Command): void {
  program
    .command('stat')
    .description(
      'per workload (deploy) or service (svc): success rate, requests per second, p50/p95/p99 latency and open TCP connections over a recent window',
    )
    .argument('[kind]', 'deploy (workloads) or svc (services)', 'deploy')
    .argument('[name]', 'only this workload or service')
    .option('-n, --namespace <ns>', 'only this namespace')
    .option('--window <duration>', 'how far back to look (e.g. 30s, 5m; at most the history kept)', '1m')
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .addOption(new Option('-o, --output <format>', 'machine-readable output').choices(['json']))
    .action(async (kindText: string, name: string | undefined, opts: StatOptions) => {
      const kind = KINDS[kindText.toLowerCase()];
      if (!kind) throw new UsageError(`weft stat ${kindText}: give deploy or svc`);
      const q = new URLSearchParams({ kind, window: opts.window });
      if (opts.namespace) q.set('namespace', opts.namespace);
      if (name) q.set('name', name);
      const r = await new ApiClient(opts.server).read<StatResponse>(`/api/v1/telemetry/stat?${q}`);
      process.stdout.write(opts.output === 'json' ? `${JSON.stringify(r, null, 2)}\n` : `${formatStat(r)}\n`);
    });
}
