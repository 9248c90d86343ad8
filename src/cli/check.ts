// `weft check`: checks the control plane, CA, proxies, clock and ports, like `linkerd check`; exit 0 only if all pass.
import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { formatReport } from '../check/format.ts';
import { DEFAULT_PORTS, runChecks } from '../check/run-checks.ts';
import { parseDuration } from '../config/duration.ts';
import { environment } from '../env.ts';
import { UsageError } from '../errors.ts';

interface CheckOptions {
  server: string;
  output?: 'json';
  timeout: string;
}

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export function register(program: Command): void {
  program
    .command('check')
    .description(
      'check the mesh: control plane reachable and ready, xDS reachable, CA trust bundle valid for 30 days, ' +
        'every proxy in sync (no NACK), clock difference under 5s; report the default ports. Exit 0 only if all pass',
    )
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .option('--timeout <duration>', 'timeout of each request', '5s')
    .addOption(new Option('-o, --output <format>', 'print the results as json').choices(['json']))
    .action(async (opts: CheckOptions) => {
      const timeout = parseDuration(opts.timeout);
      if ('error' in timeout) throw new UsageError(`--timeout: ${timeout.error}`);
      try {
        new URL(opts.server);
      } catch {
        throw new UsageError(
          `--server ${JSON.stringify(opts.server)} is not a URL; write it like http://127.0.0.1:15080`,
        );
      }
      const report = await runChecks({
        server: opts.server,
        cliVersion: pkg.version,
        requestTimeoutMs: timeout.ms,
        rootExpiryMarginMs: 30 * 24 * 60 * 60 * 1000,
        maxClockSkewMs: 5000,
        staleGraceMs: 3000,
        ports: DEFAULT_PORTS,
      });
      process.stdout.write(
        opts.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report),
      );
      process.exitCode = report.success ? 0 : 1;
    });
}
