// `weft run [proxy flags] -- COMMAND ...`: a sidecar and its app as one unit (ports chosen, started in order, stopped together).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Command, Option } from 'commander';
import { parseDuration } from '../config/duration.ts';
import { environment } from '../env.ts';
import { ServerUnavailableError, SidecarNotReadyError, UsageError } from '../errors.ts';
import type { CaptureSpec } from '../run/capture-rules.ts';
import { agentInfo } from '../run/node-workload.ts';
import { pickFreePorts } from '../run/ports.ts';
import { probeServer } from '../run/ready.ts';
import { type TokenFile, writeTokenFile } from '../run/token-file.ts';
import { Unit, type UnitPorts } from '../run/unit.ts';
import { toSidecarConfig } from './proxy.ts';
import { createToken } from './token.ts';

/** The unit's own flags; every other flag is one of `weft proxy`'s, forwarded to it as given. */
interface RunOptions {
  appPort?: string;
  inboundPort?: string;
  outboundPort?: string;
  adminPort?: string;
  readyTimeout: string;
  appStopTimeout: string;
  allowExposedApp?: boolean;
  logLevel?: string;
  logFormat?: string;
  capture?: boolean;
  captureGid: string;
  captureIncludePorts?: string;
  captureExcludePorts?: string;
  captureIncludeCidrs?: string;
  captureExcludeCidrs?: string;
  node?: string;
  /** `--no-capture-dns` sets it false. */
  captureDns: boolean;
  dnsPort?: string;
  [proxyFlag: string]: unknown;
}

const WEFT_BIN = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

/** Port flags of `weft proxy` that `weft run` owns: optional here, free ports by default. */
const UNIT_PORT_FLAGS: Record<string, keyof UnitPorts> = {
  '--app-port': 'app',
  '--inbound-port': 'inbound',
  '--outbound-port': 'outbound',
  '--admin-port': 'admin',
};

function milliseconds(flag: string, text: string): number {
  const result = parseDuration(text);
  if ('error' in result) throw new UsageError(`${flag}: ${result.error}`);
  return result.ms;
}

function portList(flag: string, text: string | undefined): number[] {
  if (text === undefined || text === '') return [];
  return text.split(',').map((p) => {
    const n = /^\d{1,5}$/.test(p.trim()) ? Number(p) : 0;
    if (!(n >= 1 && n <= 65535))
      throw new UsageError(`${flag}: ${JSON.stringify(p)} is not a port (1-65535)`);
    return n;
  });
}

function cidrList(flag: string, text: string | undefined): string[] {
  if (text === undefined || text === '') return [];
  return text.split(',').map((c) => {
    const [ip, bits, ...rest] = c.trim().split('/');
    if (
      isIP(ip) !== 4 ||
      rest.length > 0 ||
      (bits !== undefined && !(/^\d{1,2}$/.test(bits) && Number(bits) <= 32))
    )
      throw new UsageError(`${flag}: ${JSON.stringify(c)} is not an IPv4 CIDR like 10.0.0.0/8`);
    return c.trim();
  });
}

/** The capture of `weft run --capture` (iptables rules for the app's group), from its flags. */
function captureSpec(
  opts: RunOptions,
  ports: Record<keyof UnitPorts, string>,
  dnsPort: number | undefined,
): CaptureSpec | undefined {
  if (!opts.capture) return undefined;
  const gid = /^\d{1,10}$/.test(opts.captureGid) ? Number(opts.captureGid) : 0;
  if (!(gid >= 1 && gid < 2 ** 31))
    throw new UsageError(`--capture-gid ${JSON.stringify(opts.captureGid)} must be a group id other than 0`);
  return {
    id: ports.app,
    appGid: gid,
    appPort: Number(ports.app),
    inboundPort: Number(ports.inbound),
    outboundPort: Number(ports.outbound),
    includePorts: portList('--capture-include-ports', opts.captureIncludePorts),
    excludePorts: portList('--capture-exclude-ports', opts.captureExcludePorts),
    includeCidrs: cidrList('--capture-include-cidrs', opts.captureIncludeCidrs),
    excludeCidrs: cidrList('--capture-exclude-cidrs', opts.captureExcludeCidrs),
    ...(dnsPort !== undefined ? { dnsPort } : {}),
  };
}

/** The sidecar's mesh DNS port under `--capture` (the one given, else a free one); undefined without DNS capture. */
async function captureDnsPort(opts: RunOptions): Promise<number | undefined> {
  if (!opts.capture || !opts.captureDns) return undefined;
  if (opts.dnsPort !== undefined && opts.dnsPort !== '0') return Number(opts.dnsPort);
  return (await pickFreePorts(1))[0];
}

/** Fills in the ports not given (or given as 0) with free ones; keeps the others as the user wrote them. */
async function choosePorts(opts: RunOptions): Promise<Record<keyof UnitPorts, string>> {
  const chosen: Record<keyof UnitPorts, string | undefined> = {
    app: opts.appPort,
    inbound: opts.inboundPort,
    outbound: opts.outboundPort,
    admin: opts.adminPort,
  };
  const missing = (Object.keys(chosen) as (keyof UnitPorts)[]).filter(
    (k) => chosen[k] === undefined || chosen[k] === '0',
  );
  const free = await pickFreePorts(missing.length);
  for (const [i, k] of missing.entries()) chosen[k] = String(free[i]);
  return chosen as Record<keyof UnitPorts, string>;
}

/** The proxy flags the user gave, as argv for `weft proxy` (defaults are left to the proxy). */
function forwardedFlags(cmd: Command, proxyOptions: readonly Option[], opts: RunOptions): string[] {
  const argv: string[] = [];
  for (const option of proxyOptions) {
    const key = option.attributeName();
    const value = opts[key];
    if (!option.long || value === undefined || cmd.getOptionValueSource(key) === 'default') continue;
    if (Array.isArray(value)) for (const v of value) argv.push(option.long, String(v));
    else if (typeof value === 'boolean') {
      if (value !== option.negate) argv.push(option.long);
    } else argv.push(option.long, String(value));
  }
  if (opts.logLevel !== undefined) argv.push('--log-level', opts.logLevel);
  if (opts.logFormat !== undefined) argv.push('--log-format', opts.logFormat);
  return argv;
}

/** Flags a `weft run --node` unit cannot give its workload: the control plane is the agent's. */
function nodeModeChecks(cmd: Command, server: string, agentServer: string): void {
  if (cmd.getOptionValueSource('server') === 'cli' && server !== agentServer)
    throw new UsageError(
      `--server ${server}: with --node the workload uses the node agent's control plane (${agentServer}); drop --server or start the agent with it`,
    );
  if (cmd.getOptionValueSource('xds') === 'cli')
    throw new UsageError("--xds: with --node the workload uses the node agent's control plane");
}

/** `--token-file FILE` replaced by `--token TOKEN`, read here (the agent reads no file a caller names). */
function withTokenValue(flags: string[], file: string): string[] {
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new UsageError(`--token-file ${file}: ${(err as Error).message}`);
  }
  const i = flags.indexOf('--token-file');
  return [...flags.slice(0, i), '--token', token, ...flags.slice(i + 2)];
}

/** The node agent behind `--node URL`: its URL must parse, and it must answer. */
async function nodeAgent(url: string): Promise<{ server: string }> {
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--node ${JSON.stringify(url)} is not a URL; write it like http://127.0.0.1:15020`);
  }
  try {
    return await agentInfo(url);
  } catch (err) {
    throw new SidecarNotReadyError((err as Error).message);
  }
}

export function register(program: Command): void {
  // Every flag of `weft proxy` (but the ports) is a flag of `weft run` with the same meaning and
  // default: the Option objects themselves are shared, so the two commands cannot drift apart.
  const proxy = program.commands.find((c) => c.name() === 'proxy');
  if (!proxy) throw new Error('weft run is registered before weft proxy (see src/cli/commands.ts)');
  const proxyOptions = proxy.options.filter((o) => !(o.long && o.long in UNIT_PORT_FLAGS));
  const run = program
    .command('run')
    .usage('--service NAME [proxy flags] -- COMMAND [ARGS...]')
    .description(
      'run an app with its sidecar as one unit: start the sidecar, wait for its /ready, start COMMAND with ' +
        'PORT, HOST=127.0.0.1, HTTP_PROXY (and NODE_USE_ENV_PROXY=1) set (an app listening beyond loopback stops the unit), forward signals; when the app exits, drain and stop ' +
        "the sidecar and exit with the app's code; when the sidecar dies, stop the app and exit 1. " +
        'Takes every flag of weft proxy; ports not given are free ports',
    )
    .argument('<command...>', 'the app to run (put it after --)')
    .passThroughOptions();
  for (const option of proxyOptions) run.addOption(option);
  run
    .option('--app-port <port>', 'port the app listens on, given to it as PORT (default: a free port)')
    .option('--inbound-port <port>', 'inbound listener port (default: a free port)')
    .option('--outbound-port <port>', "outbound listener port, the app's HTTP_PROXY (default: a free port)")
    .option('--admin-port <port>', "sidecar's admin port (default: a free port)")
    .option('--ready-timeout <duration>', "how long to wait for the sidecar's admin /ready", '60s')
    .option(
      '--allow-exposed-app',
      'only warn when the app listens beyond loopback (reachable around its sidecar) instead of stopping',
    )
    .option(
      '--capture-gid <gid>',
      'with --capture: the group the app runs as (its sockets are captured)',
      '1337',
    )
    .option(
      '--capture-include-ports <ports>',
      'with --capture: capture only these outbound ports (comma-separated)',
    )
    .option('--capture-exclude-ports <ports>', 'with --capture: never capture these outbound ports')
    .option(
      '--capture-include-cidrs <cidrs>',
      'with --capture: capture only these destinations (10.0.0.0/8,...)',
    )
    .option('--capture-exclude-cidrs <cidrs>', 'with --capture: never capture these destinations')
    .option(
      '--node <url>',
      'node mode: the node agent at this URL (weft node) serves the workload in its shared process instead of a sidecar process of its own',
    )
    .option(
      '--no-capture-dns',
      "with --capture: leave the app's DNS alone (by default its port-53 queries go to the sidecar's mesh DNS, --dns-port or a free port)",
    )
    .option(
      '--app-stop-timeout <duration>',
      'when the sidecar dies, how long the app has after SIGTERM before SIGKILL',
      '10s',
    )
    .action(async (command: string[], opts: RunOptions, cmd: Command) => {
      const readyTimeoutMs = milliseconds('--ready-timeout', opts.readyTimeout);
      const appStopTimeoutMs = milliseconds('--app-stop-timeout', opts.appStopTimeout);
      if (command.length === 0 || command[0] === '')
        throw new UsageError(
          'give the app to run after --, e.g. weft run --service reviews -- node reviews.js',
        );
      if (opts.node !== undefined && opts.capture)
        throw new UsageError('--capture needs a sidecar of its own: give --capture or --node, not both');
      const agent = opts.node !== undefined ? await nodeAgent(opts.node) : undefined;
      const ports = await choosePorts(opts);
      const dnsPort = await captureDnsPort(opts);
      const capture = captureSpec(opts, ports, dnsPort);
      // weft proxy's own parser validates every flag, so both commands accept exactly the same values.
      const sidecar = toSidecarConfig({
        ...opts,
        appPort: ports.app,
        inboundPort: ports.inbound,
        outboundPort: ports.outbound,
        adminPort: ports.admin,
      } as unknown as Parameters<typeof toSidecarConfig>[0]);
      // The sidecar's identity: a token given as a flag is forwarded as is; otherwise weft run mints
      // one for the unit's identity (the control plane allows that from its own host, or with
      // WEFT_TOKEN) and hands it to the sidecar as a private file, removed when the unit ends.
      // Node mode: the workload uses the agent's control plane and log settings (its process's),
      // and gets a token file's token itself (the agent reads no file a caller names).
      if (agent) nodeModeChecks(cmd, sidecar.server, agent.server);
      if (agent) sidecar.server = agent.server;
      let proxyFlags = forwardedFlags(
        cmd,
        proxyOptions,
        agent ? { ...opts, logLevel: undefined, logFormat: undefined, server: undefined } : opts,
      );
      if (agent && sidecar.token?.kind === 'file')
        proxyFlags = withTokenValue(proxyFlags, sidecar.token.file);
      if (dnsPort !== undefined) {
        // The port the rules redirect to, chosen above (a --dns-port 0 became a free port).
        proxyFlags = proxyFlags.filter((f, i, all) => f !== '--dns-port' && all[i - 1] !== '--dns-port');
        proxyFlags.push('--dns-port', String(dnsPort));
      }
      let tokenFile: TokenFile | undefined;
      if (sidecar.token === undefined) {
        const minted = await createToken(
          sidecar.server,
          { namespace: sidecar.namespace, serviceAccount: sidecar.serviceAccount },
          environment.operatorToken,
        ).catch(async (err: unknown) => {
          // Not reachable yet: the sidecar waits for the control plane and mints its own token
          // from loopback, as weft proxy does; any other refusal is the user's to fix.
          if (err instanceof ServerUnavailableError) {
            process.stderr.write(
              `weft run: waiting for the control plane at ${sidecar.server} (${(await probeServer(sidecar.server)) ?? 'it answers now'}); the sidecar keeps retrying for --ready-timeout ${opts.readyTimeout}\n`,
            );
            return undefined;
          }
          throw err;
        });
        // The agent gets the token itself in the registration (over loopback): it renews with it.
        if (minted && agent) proxyFlags.push('--token', minted.token);
        else if (minted) {
          tokenFile = await writeTokenFile(minted.token);
          proxyFlags.push('--token-file', tokenFile.path);
        }
      }
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
        proxyFlags,
        weftCommand: [process.execPath, WEFT_BIN],
        command,
        inheritedEnv: process.env,
        readyTimeoutMs,
        drainTimeoutMs: sidecar.drainTimeoutMs,
        appStopTimeoutMs,
        report: (line) => process.stderr.write(`${line}\n`),
        server: sidecar.server,
        allowExposedApp: opts.allowExposedApp === true,
        probeServer,
        ...(capture ? { capture } : {}),
        ...(opts.node !== undefined ? { node: opts.node } : {}),
      });
      const result = await unit.run().finally(() => tokenFile?.remove());
      process.exit(result.exitCode);
    });
}
