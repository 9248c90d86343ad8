// `weft top`: the busiest paths seen by tap, refreshed live on a terminal (`-o json`: one summary after --duration).
import { type Command, Option } from 'commander';
import { environment } from '../env.ts';
import { UsageError } from '../errors.ts';
import { ms, percent, table } from './table.ts';
import { countedRecord, type RelayedTapRecord, readTap } from './tap-stream.ts';

interface TopOptions {
  server: string;
  namespace?: string;
  path?: string;
  method?: string;
  duration?: string;
  output?: 'json';
}

/** One path's figures: requests, share answered below 500, fastest and slowest. */
export interface TopRow {
  service: string;
  method: string;
  path: string;
  count: number;
  successRate: number;
  bestMs: number;
  worstMs: number;
}

/** Accumulates tap records (one per request: the caller's report, see countedRecord) by service, method and path. */
export class TopTable {
  readonly #rows = new Map<string, TopRow & { ok: number }>();

  add(r: RelayedTapRecord): void {
    if (!countedRecord(r)) return;
    const service = r.destination.service.split('.')[0];
    const key = `${service} ${r.method} ${r.path}`;
    let row = this.#rows.get(key);
    if (!row) {
      row = {
        service,
        method: r.method,
        path: r.path,
        count: 0,
        ok: 0,
        successRate: 0,
        bestMs: r.latencyMs,
        worstMs: r.latencyMs,
      };
      this.#rows.set(key, row);
    }
    row.count++;
    if (r.status > 0 && r.status < 500) row.ok++;
    row.successRate = row.ok / row.count;
    row.bestMs = Math.min(row.bestMs, r.latencyMs);
    row.worstMs = Math.max(row.worstMs, r.latencyMs);
  }

  rows(): TopRow[] {
    return [...this.#rows.values()]
      .map(({ ok: _ok, ...row }) => row)
      .sort((a, b) => b.count - a.count || a.path.localeCompare(b.path));
  }

  format(limit = 20): string {
    const rows = this.rows().slice(0, limit);
    if (rows.length === 0) return 'No requests yet.';
    return table([
      ['COUNT', 'SERVICE', 'METHOD', 'PATH', 'SUCCESS', 'BEST', 'WORST'],
      ...rows.map((r) => [
        String(r.count),
        r.service,
        r.method,
        r.path,
        percent(r.successRate),
        ms(r.bestMs),
        ms(r.worstMs),
      ]),
    ]);
  }
}

export function register(program: Command): void {
  program
    .command('top')
    .description(
      'the busiest paths right now, from tap (live on a terminal; -o json prints once after --duration)',
    )
    .argument('[service]', 'only requests to this service')
    .option('-n, --namespace <ns>', 'only requests from or to this namespace')
    .option('--path <prefix>', 'only paths starting with this')
    .option('--method <method>', 'only this HTTP method')
    .option(
      '--duration <seconds>',
      'how long to watch (default: until Ctrl-C; 5 with -o json or without a terminal)',
    )
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .addOption(new Option('-o, --output <format>', 'one JSON summary at the end').choices(['json']))
    .action(async (service: string | undefined, opts: TopOptions) => {
      const live = opts.output !== 'json' && process.stdout.isTTY;
      const duration = opts.duration === undefined ? (live ? 0 : 5) : Number(opts.duration);
      if (!Number.isInteger(duration) || duration < 0)
        throw new UsageError(`--duration ${opts.duration}: give whole seconds`);
      const top = new TopTable();
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      const draw = () =>
        process.stdout.write(`\x1b[H\x1b[2J${top.format(Math.max(5, (process.stdout.rows ?? 24) - 3))}\n`);
      const timer = live ? setInterval(draw, 1000) : undefined;
      try {
        await readTap(
          opts.server,
          { service, namespace: opts.namespace, path: opts.path, method: opts.method, duration },
          (r) => top.add(r),
          (n) => process.stderr.write(`tapping ${n} proxies${duration ? ` for ${duration}s` : ''}\n`),
          abort.signal,
        );
      } finally {
        clearInterval(timer);
      }
      if (opts.output === 'json') process.stdout.write(`${JSON.stringify({ rows: top.rows() }, null, 2)}\n`);
      else process.stdout.write(`${live ? '\x1b[H\x1b[2J' : ''}${top.format()}\n`);
    });
}
