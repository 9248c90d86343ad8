// `weft gateway`: an ingress or egress gateway; its listeners come from the Istio and Gateway API Gateways that select it.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseDuration } from '../config/duration.ts';
import { GATEWAY_NAME_LABEL } from '../config/gateway-api/gateway.ts';
import { environment } from '../env.ts';
import { UsageError } from '../errors.ts';
import { logger } from '../observe/log.ts';
import { Sidecar, type SidecarConfig } from '../proxy/sidecar.ts';
import { drainOnSignal } from './drain-on-signal.ts';

interface GatewayOptions {
  name: string;
  namespace: string;
  port: string[];
  label: string[];
  serviceAccount?: string;
  adminPort: string;
  server: string;
  xds?: string;
  drainTimeout: string;
  tokenFile?: string;
  token?: string;
}

/** One `--port`: the service port Gateways name, the local port bound for it, its protocol. */
export interface GatewayPortFlag {
  port: number;
  listenPort: number;
  protocol: string;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const PROTOCOLS = ['http', 'https', 'http2', 'grpc', 'tls', 'tcp'];

function portNumber(text: string, flag: string, allowZero = false): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= (allowZero ? 0 : 1) && n <= 65535))
    throw new UsageError(
      `${flag} ${JSON.stringify(text)} is not a port; use a number from ${allowZero ? 0 : 1} to 65535`,
    );
  return n;
}

/**
 * `--port [SERVICE_PORT=]LOCAL_PORT[/PROTOCOL]`: `8080` serves Gateway servers on port 8080 at
 * local port 8080; `80=8080` serves servers on port 80 at local port 8080 (Istio's gateway
 * Service maps its ports the same way); the protocol (default http) is what mesh clients use
 * when they call the gateway as a service (egress).
 */
export function parseGatewayPort(text: string): GatewayPortFlag {
  const m = /^(?:(\d+)=)?(\d+)(?:\/([a-z0-9]+))?$/i.exec(text.trim());
  if (!m)
    throw new UsageError(
      `--port ${JSON.stringify(text)} must look like 8080, 80=8080 or 443=8443/https ([SERVICE_PORT=]LOCAL_PORT[/PROTOCOL])`,
    );
  const listenPort = portNumber(m[2], '--port');
  const port = m[1] === undefined ? listenPort : portNumber(m[1], '--port');
  const protocol = (m[3] ?? 'http').toLowerCase();
  if (!PROTOCOLS.includes(protocol))
    throw new UsageError(
      `--port ${JSON.stringify(text)}: the protocol must be one of ${PROTOCOLS.join(', ')}`,
    );
  return { port, listenPort, protocol };
}

/** Turns parsed flags into the gateway's SidecarConfig; bad input is a UsageError that says what to fix. */
export function toGatewayConfig(opts: GatewayOptions): SidecarConfig {
  if (!NAME.test(opts.name))
    throw new UsageError(`--name ${JSON.stringify(opts.name)} must be a DNS label like ingress`);
  if (!NAME.test(opts.namespace))
    throw new UsageError(`--namespace ${JSON.stringify(opts.namespace)} must be a DNS label like default`);
  if (opts.port.length === 0)
    throw new UsageError('give the ports to serve with --port, e.g. --port 8080 or --port 80=8080');
  const ports = opts.port.map(parseGatewayPort);
  const seen = new Set<number>();
  for (const p of ports) {
    if (seen.has(p.port)) throw new UsageError(`--port: service port ${p.port} is given twice`);
    seen.add(p.port);
  }
  const labels: Record<string, string> = {
    app: opts.name,
    istio: opts.name,
    [GATEWAY_NAME_LABEL]: opts.name,
  };
  for (const l of opts.label) {
    const eq = l.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label ${JSON.stringify(l)} must look like key=value`);
    labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  if (opts.tokenFile !== undefined && opts.token !== undefined)
    throw new UsageError('give the bootstrap token once: --token-file FILE or --token TOKEN, not both');
  const drain = parseDuration(opts.drainTimeout);
  if ('error' in drain) throw new UsageError(`--drain-timeout: ${drain.error}`);
  if (opts.xds !== undefined && !/^[^:]+:\d+$|^\[[^\]]+\]:\d+$/.test(opts.xds))
    throw new UsageError(`--xds ${JSON.stringify(opts.xds)} is not HOST:PORT`);
  return {
    service: opts.name,
    namespace: opts.namespace,
    version: '',
    labels,
    serviceAccount: opts.serviceAccount ?? opts.name,
    appPort: 0,
    servicePort: ports[0].port,
    protocol: ports[0].protocol.toUpperCase(),
    inboundPort: 0,
    outboundPort: 0,
    adminPort: portNumber(opts.adminPort, '--admin-port', true),
    server: opts.server,
    xdsAddress: opts.xds,
    drainTimeoutMs: drain.ms,
    // A sidecar waits for its control plane as long as it takes (as Envoy's agent does), saying why.
    bootstrapTimeoutMs: Number.POSITIVE_INFINITY,
    concurrency: 1,
    role: 'gateway',
    gatewayPorts: ports,
    ...(opts.tokenFile !== undefined
      ? { token: { kind: 'file' as const, file: resolve(opts.tokenFile) } }
      : opts.token !== undefined
        ? { token: { kind: 'value' as const, token: opts.token } }
        : {}),
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function register(program: Command): void {
  program
    .command('gateway')
    .description(
      'run an ingress or egress gateway: listeners and routes from the Istio Gateways whose selector matches its ' +
        'labels and the Gateway API Gateway named --name in its namespace, with the VirtualServices and HTTPRoutes bound to them',
    )
    .requiredOption('--name <name>', 'gateway name: its service name, and the Gateway API Gateway it serves')
    .option('--namespace <ns>', 'namespace of the gateway', 'default')
    .option(
      '--port <[svc=]local[/proto]>',
      'a port to serve (repeatable): 8080, or 80=8080 to serve Gateway servers on port 80 at local port 8080',
      collect,
      [],
    )
    .option(
      '--label <k=v>',
      'gateway label (repeatable); defaults app=NAME, istio=NAME and gateway.networking.k8s.io/gateway-name=NAME',
      collect,
      [],
    )
    .option('--service-account <sa>', 'service account (identity); defaults to the gateway name')
    .option('--admin-port <port>', 'admin port: /ready, /stats/prometheus, /config_dump (0 picks one)', '0')
    .option(
      '--server <url>',
      'control-plane API URL (WEFT_SERVER; several replicas: URL,URL; the proxy fails over)',
      environment.server,
    )
    .option('--xds <host:port>', 'xDS address (skips asking --server for it)')
    .option('--drain-timeout <duration>', 'on SIGTERM, wait this long for in-flight requests', '5s')
    .option(
      '--token-file <file>',
      'bootstrap token proving the gateway identity (weft token create); without one the gateway mints one, ' +
        'which the control plane allows from its own host only',
    )
    .option('--token <token>', 'the bootstrap token itself (tests and development; prefer --token-file)')
    .action(async (opts: GatewayOptions) => {
      const config = toGatewayConfig(opts);
      const log = logger({ component: 'gateway' });
      const gateway = await Sidecar.start(config);
      drainOnSignal(gateway, config.drainTimeoutMs, log);
      await gateway.whenReady();
      const ports = (config.gatewayPorts ?? [])
        .map((p) => (p.port === p.listenPort ? `${p.port}` : `${p.port}→${p.listenPort}`))
        .join(' ');
      const labels = Object.entries(config.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      process.stdout.write(
        `weft gateway ready: ${config.service}.${config.namespace} ports ${ports} (0.0.0.0) labels ${labels} admin 127.0.0.1:${gateway.ports.admin}\n`,
      );
    });
}
