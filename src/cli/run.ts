// `weft run [proxy flags] -- COMMAND ...`: a sidecar and its app as one unit (ports chosen, started in order, stopped together).
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { parseDuration } from '../config/duration.ts';
import { environment } from '../env.ts';
import { UsageError } from '../errors.ts';
import { pickFreePorts } from '../run/ports.ts';
import { Unit, type UnitPorts } from '../run/unit.ts';
import { toSidecarConfig } from './proxy.ts';

/** The flags of `weft run`: those of `weft proxy` (ports optional), plus the unit's own. */
interface RunOptions {
  service: string;
  namespace: string;
  version: string;
  label: string[];
  serviceAccount?: string;
  appPort?: string;
  servicePort: string;
  protocol: string;
  inboundPort?: string;
  outboundPort?: string;
  adminPort?: string;
  server: string;
  xds?: string;
  drainTimeout: string;
  readyTimeout: string;
  appStopTimeout: string;
  logLevel?: string;
}

const WEFT_BIN = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function milliseconds(flag: string, text: string): number {
  const result = parseDuration(text);
  if ('error' in result) throw new UsageError(`${flag}: ${result.error}`);
  return result.ms;
}

/** Fills in the ports not given (or given as 0) with free ones; keeps the others as the user wrote them. */
async function choosePorts(opts: RunOptions): Promise<Record<keyof UnitPorts, string>> {
  const given = {
    app: opts.appPort,
    inbound: opts.inboundPort,
    outbound: opts.outboundPort,
    admin: opts.adminPort,
  };
  const missing = (Object.keys(given) as (keyof UnitPorts)[]).filter(
    (k) => given[k] === undefined || given[k] === '0',
  );
  const free = await pickFreePorts(missing.length);
  const chosen = { ...given } as Record<keyof UnitPorts, string>;
  for (const [i, k] of missing.entries()) chosen[k] = String(free[i]);
  return chosen;
}

/** `weft proxy` flags that pass through unchanged (ports are added by the unit). */
function proxyFlags(opts: RunOptions): string[] {
  const flags = ['--service', opts.service, '--namespace', opts.namespace, '--version', opts.version];
  for (const label of opts.label) flags.push('--label', label);
  if (opts.serviceAccount !== undefined) flags.push('--service-account', opts.serviceAccount);
  flags.push('--service-port', opts.servicePort, '--protocol', opts.protocol, '--server', opts.server);
  if (opts.xds !== undefined) flags.push('--xds', opts.xds);
  flags.push('--drain-timeout', opts.drainTimeout);
  if (opts.logLevel !== undefined) flags.push('--log-level', opts.logLevel);
  return flags;
}

export function register(program: Command): void {
  program
    .command('run')
    .usage('--service NAME [proxy flags] -- COMMAND [ARGS...]')
    .description(
      'run an app with its sidecar as one unit: start the sidecar, wait for its /ready, start COMMAND with ' +
        'PORT, HTTP_PROXY (and NODE_USE_ENV_PROXY=1) set, forward signals; when the app exits, drain and stop ' +
        "the sidecar and exit with the app's code; when the sidecar dies, stop the app and exit 1",
    )
    .argument('<command...>', 'the app to run (put it after --)')
    .passThroughOptions()
    .requiredOption('--service <name>', 'service this workload serves')
    .option('--namespace <ns>', 'namespace of the workload', 'default')
    .option('--version <v>', 'version label of the workload', 'latest')
    .option('--label <k=v>', 'extra workload label (repeatable)', collect, [])
    .option('--service-account <sa>', 'service account (identity); defaults to the service name')
    .option('--app-port <port>', 'port the app listens on, given to it as PORT (default: a free port)')
    .option('--service-port <port>', 'service port clients use', '80')
    .option('--protocol <p>', 'protocol of the service port: http, http2, grpc or tcp', 'http')
    .option('--inbound-port <port>', 'inbound listener port (default: a free port)')
    .option('--outbound-port <port>', "outbound listener port, the app's HTTP_PROXY (default: a free port)")
    .option('--admin-port <port>', "sidecar's admin port (default: a free port)")
    .option('--server <url>', 'control-plane API URL', environment.server)
    .option('--xds <host:port>', 'xDS address (skips asking --server for it)')
    .option('--drain-timeout <duration>', 'when the app has exited, how long the sidecar drains', '5s')
    .option('--ready-timeout <duration>', "how long to wait for the sidecar's admin /ready", '60s')
    .option(
      '--app-stop-timeout <duration>',
      'when the sidecar dies, how long the app has after SIGTERM before SIGKILL',
      '10s',
    )
    .action(async (command: string[], opts: RunOptions) => {
      const readyTimeoutMs = milliseconds('--ready-timeout', opts.readyTimeout);
      const appStopTimeoutMs = milliseconds('--app-stop-timeout', opts.appStopTimeout);
      const ports = await choosePorts(opts);
      // weft proxy's own parser validates every flag, so both commands accept exactly the same values.
      const sidecar = toSidecarConfig({
        ...opts,
        appPort: ports.app,
        inboundPort: ports.inbound,
        outboundPort: ports.outbound,
        adminPort: ports.admin,
      });
      if (command.length === 0 || command[0] === '')
        throw new UsageError(
          'give the app to run after --, e.g. weft run --service reviews -- node reviews.js',
        );
      const unit = new Unit({
        service: sidecar.service,
        namespace: sidecar.namespace,
        version: sidecar.version,
        ports: {
          app: sidecar.appPort,
          inbound: sidecar.inboundPort,
          outbound: sidecar.outboundPort,
          admin: sidecar.adminPort,
        },
        proxyFlags: proxyFlags(opts),
        weftCommand: [process.execPath, WEFT_BIN],
        command,
        inheritedEnv: process.env,
        readyTimeoutMs,
        drainTimeoutMs: sidecar.drainTimeoutMs,
        appStopTimeoutMs,
        report: (line) => process.stderr.write(`${line}\n`),
      });
      const result = await unit.run();
      process.exit(result.exitCode);
    });
}
