// `weft edges`: who calls whom, with both sides' identities and whether the calls are mutual TLS (as `linkerd viz edges`).
import { type Command, Option } from 'commander';
import type { Graph } from '../control/telemetry/telemetry.ts';
import { environment } from '../env.ts';
import { ApiClient } from './client.ts';
import { identity, percent, rps, table } from './table.ts';

interface EdgesOptions {
  server: string;
  namespace?: string;
  window: string;
  output?: 'json';
}

export function formatEdges(g: Graph): string {
  if (g.edges.length === 0) return `No traffic in the last ${g.windowSeconds}s.`;
  return table([
    ['SRC', 'DST', 'SRC_ID', 'DST_ID', 'MTLS', 'RPS', 'SUCCESS'],
    ...g.edges.map((e) => [
      e.source.workload,
      e.destination.name,
      identity(e.source.principal),
      identity(e.destination.principal),
      e.mtls === null ? '?' : e.mtls ? 'yes' : 'no',
      e.protocol === 'tcp' ? `${e.tcpOpen}conn` : rps(e.rps),
      percent(e.successRate),
    ]),
  ]);
}

export function register(program: Command): void {
  program
    .command('edges')
    .description(
      'who calls whom over a recent window: source workload, destination service, identities, mTLS',
    )
    .option('-n, --namespace <ns>', 'only calls from or to this namespace')
    .option('--window <duration>', 'how far back to look (e.g. 30s, 5m)', '1m')
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .addOption(new Option('-o, --output <format>', 'machine-readable output').choices(['json']))
    .action(async (opts: EdgesOptions) => {
      const g = await new ApiClient(opts.server).read<Graph>(
        `/api/v1/telemetry/graph?${new URLSearchParams({ window: opts.window })}`,
      );
      const ns = opts.namespace;
      if (ns) g.edges = g.edges.filter((e) => e.source.namespace === ns || e.destination.namespace === ns);
      const body =
        opts.output === 'json'
          ? JSON.stringify({ windowSeconds: g.windowSeconds, edges: g.edges }, null, 2)
          : formatEdges(g);
      process.stdout.write(`${body}\n`);
    });
}
