// `weft tap [service]`: a live stream of finished requests through the mesh (method, path, status, latency, identities, flags).
import { type Command, Option } from 'commander';
import { environment } from '../env.ts';
import { UsageError } from '../errors.ts';
import { identity } from './table.ts';
import { type RelayedTapRecord, readTap } from './tap-stream.ts';

interface TapOptions {
  server: string;
  namespace?: string;
  path?: string;
  method?: string;
  max?: string;
  duration?: string;
  output?: 'json';
}

/** One line of at most 80 columns: time, direction, source -> destination, request, status, latency, flags. */
export function formatTapLine(r: RelayedTapRecord): string {
  const time = r.time.slice(11, 23);
  const dir = r.reporter === 'source' ? 'out' : 'in ';
  const from = r.source.workload === 'unknown' ? identity(r.source.principal) : r.source.workload;
  const to = r.destination.service.split('.')[0];
  const tail = ` ${r.status} ${Math.round(r.latencyMs)}ms${r.flags === '-' ? '' : ` ${r.flags}`}${r.security === 'mutual_tls' ? ' tls' : ''}`;
  const head = `${time} ${dir} ${from}->${to} ${r.method} `;
  const room = Math.max(8, 80 - head.length - tail.length);
  const path = r.path.length > room ? `${r.path.slice(0, room - 1)}~` : r.path;
  return `${head}${path}${tail}`;
}

function wholeNumber(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} ${text}: give a whole number above 0`);
  return n;
}

export function register(program: Command): void {
  program
    .command('tap')
    .description(
      'stream finished requests live (never bodies or headers such as Authorization or Cookie); needs loopback or WEFT_TOKEN',
    )
    .argument('[service]', 'only requests to this service (name or host)')
    .option('-n, --namespace <ns>', 'only requests from or to this namespace')
    .option('--path <prefix>', 'only paths starting with this')
    .option('--method <method>', 'only this HTTP method')
    .option('--max <n>', 'stop after this many requests')
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .addOption(new Option('-o, --output <format>', 'one JSON record per line').choices(['json']))
    .action(async (service: string | undefined, opts: TapOptions) => {
      const max = wholeNumber('--max', opts.max);
      const duration = wholeNumber('--duration', opts.duration);
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      await readTap(
        opts.server,
        { service, namespace: opts.namespace, path: opts.path, method: opts.method, max, duration },
        (r) =>
          process.stdout.write(opts.output === 'json' ? `${JSON.stringify(r)}\n` : `${formatTapLine(r)}\n`),
        (n) =>
          process.stderr.write(`tapping ${n} proxies${max ? ` for ${max} requests` : ''} (Ctrl-C stops)\n`),
        abort.signal,
      );
    });
}
