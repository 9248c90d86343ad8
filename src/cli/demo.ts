// `weft demo`: a local mesh with the Bookinfo sample behind an ingress gateway, until Ctrl-C stops every process it started.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { dashboardUrl } from '../dashboard/serve.ts';
import { Demo } from '../demo/demo.ts';
import { BOOKINFO_DIR, STRICT_MTLS, WEFT_BIN } from '../demo/plan.ts';
import { DEFAULT_SERVER } from '../env.ts';
import { UsageError } from '../errors.ts';
import { weftCommand } from './hint.ts';

interface DemoOptions {
  port: string;
  traffic: boolean;
  startTimeout: string;
  api?: string;
  xds?: string;
}

/** Whether `host:port` can be bound right now. */
function free(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function portFlag(text: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= 65535))
    throw new UsageError(`--port ${JSON.stringify(text)} is not a port; use 1 to 65535`);
  return n;
}

/** A HOST:PORT flag, passed on to `weft control-plane` (which checks it fully). */
function hostPort(flag: string, text: string): string {
  if (!/^(?:\[[^\]]+\]|[^:[\]]+):\d{1,5}$/.test(text))
    throw new UsageError(`${flag} ${JSON.stringify(text)} is not HOST:PORT; write it like 127.0.0.1:0`);
  return text;
}

/** The control plane's usual addresses when they are free (so `weft apply` needs no --server), else free ports. */
async function controlPlaneAddresses(): Promise<{ api: string; xds: string }> {
  const usual = (await free('127.0.0.1', 15080)) && (await free('127.0.0.1', 15010));
  return usual
    ? { api: '127.0.0.1:15080', xds: '127.0.0.1:15010' }
    : { api: '127.0.0.1:0', xds: '127.0.0.1:0' };
}

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'run a local mesh: a control plane (temporary data dir), an ingress gateway on --port and the Bookinfo sample ' +
        '(productpage, details, reviews v1/v2/v3, ratings), each in its own weft run unit; prints the URLs; ' +
        'Ctrl-C stops every process it started',
    )
    .option(
      '--port <port>',
      'local port of the ingress gateway (the app is http://localhost:PORT/productpage)',
      '8080',
    )
    .option(
      '--traffic',
      'send a few product pages a second through the ingress and print what answered',
      false,
    )
    .option('--start-timeout <seconds>', 'give up starting after this many seconds', '90')
    .option(
      '--api <host:port>',
      "control plane's API address (default 127.0.0.1:15080 when free, else a free port)",
    )
    .option(
      '--xds <host:port>',
      "control plane's xDS address (default 127.0.0.1:15010 when free, else a free port)",
    )
    .action(async (opts: DemoOptions) => {
      const port = portFlag(opts.port);
      const startTimeoutMs = Number(opts.startTimeout) * 1000;
      if (!(startTimeoutMs > 0)) throw new UsageError('--start-timeout must be a number of seconds');
      if (!(await free('0.0.0.0', port)))
        throw new UsageError(`port ${port} is in use; give the ingress gateway another one with --port`);
      const usual = await controlPlaneAddresses();
      const addresses = {
        api: opts.api === undefined ? usual.api : hostPort('--api', opts.api),
        xds: opts.xds === undefined ? usual.xds : hostPort('--xds', opts.xds),
      };
      const dir = await mkdtemp(join(tmpdir(), 'weft-demo-'));
      const say = (line: string) => process.stdout.write(`${line}\n`);
      say(`weft demo: starting a control plane, the ingress gateway and Bookinfo (logs in ${dir})`);
      const demo = new Demo({
        port,
        api: addresses.api,
        xds: addresses.xds,
        traffic: opts.traffic,
        dir,
        weftCommand: [process.execPath, WEFT_BIN],
        env: { ...process.env, WEFT_LOG_LEVEL: process.env.WEFT_LOG_LEVEL ?? 'warn' },
        startTimeoutMs,
        report: (line) => say(`  ${line}`),
      });
      // A second signal, or the demo exiting any other way, kills what is left at once.
      process.on('exit', () => demo.kill());
      let signals = 0;
      let ready = false;
      const shutdown = (signal: NodeJS.Signals) => {
        signals++;
        if (signals > 1) {
          say(`weft demo: ${signal} again: killing everything`);
          demo.kill();
          process.exit(1);
        }
        say(`weft demo: ${signal}: stopping every process it started`);
        demo.stop().then(async () => {
          // Logs are kept when the demo never got ready (the error names them).
          if (ready) await rm(dir, { recursive: true, force: true });
          say('weft demo: stopped');
          process.exit(0);
        });
      };
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, shutdown);

      let urls: Awaited<ReturnType<Demo['start']>>;
      try {
        urls = await demo.start();
      } catch (err) {
        // Stopped by a signal while starting: the signal handler finishes (and exits 0).
        if (signals > 0) return new Promise<never>(() => {});
        throw err;
      }
      ready = true;
      const server = urls.controlPlane === DEFAULT_SERVER ? '' : ` --server ${urls.controlPlane}`;
      const examples = BOOKINFO_DIR.replace(/\/$/, '');
      const weft = weftCommand();
      say(`weft demo ready: app ${urls.app} api ${urls.controlPlane}`);
      say('');
      say(`  Bookinfo through the ingress gateway:  ${urls.app}  (add ?u=jason to sign in as jason)`);
      say(`  its JSON API:                          http://localhost:${port}/api/v1/products/0`);
      say(`  control plane API:                     ${urls.controlPlane}`);
      say(`  dashboard:                             ${dashboardUrl(urls.controlPlane)}  (weft dashboard)`);
      say(
        `  apply a scenario (docs/demo.md):       ${weft} apply${server} -f ${examples}/istio/virtual-service-all-v1.yaml`,
      );
      say(
        `  count which versions answer:           node ${examples}/traffic.mjs http://localhost:${port} -n 30`,
      );
      say(`  look at the mesh:                      ${weft} proxy-status${server}; ${weft} check${server}`);
      say(
        `  mutual TLS:                            STRICT between the workloads (${examples}/${STRICT_MTLS})`,
      );
      say(`  logs:                                  ${dir}`);
      say('');
      say('Ctrl-C stops everything.');
    });
}
