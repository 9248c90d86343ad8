// `weft dashboard`: prints the URL of the dashboard the control plane serves and, on a desktop, opens it.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Command } from 'commander';
import { dashboardUrl } from '../dashboard/serve.ts';
import { environment } from '../env.ts';
import { ApiClient } from './client.ts';

interface DashboardOptions {
  server: string;
  open: boolean;
}

/** The path of `command` on PATH, if it is there and executable. */
function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

export function register(program: Command): void {
  program
    .command('dashboard')
    .description(
      'print the URL of the web dashboard the control plane serves (graph, services, proxies, config, tap) and open it on a desktop',
    )
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .option('--no-open', 'only print the URL, even on a desktop')
    .action(async (opts: DashboardOptions) => {
      // Fails with WEFT_SERVER_UNAVAILABLE when no control plane answers there.
      await new ApiClient(opts.server).proxies();
      const url = dashboardUrl(opts.server);
      process.stdout.write(`weft dashboard: ${url}\n`);
      const opener = opts.open && environment.desktop ? onPath('xdg-open') : undefined;
      if (opener) spawn(opener, [url], { detached: true, stdio: 'ignore' }).unref();
    });
}
