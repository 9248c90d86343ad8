// `weft proxy`: runs a sidecar next to an app; all routing config comes from the control plane over xDS.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseDuration } from '../config/duration.ts';
import { environment } from '../env.ts';
import { UsageError } from '../errors.ts';
import { logger } from '../observe/log.ts';
import { Sidecar, type SidecarConfig } from '../proxy/sidecar.ts';
import { deferDefaultTrust } from '../proxy/tls/default-trust.ts';
import { drainOnSignal } from './drain-on-signal.ts';

interface ProxyOptions {
  service: string;
  namespace: string;
  version: string;
  label: string[];
  serviceAccount?: string;
  appPort: string;
  appPortName?: string;
  servicePort: string;
  protocol: string;
  inboundPort: string;
  outboundPort: string;
  adminPort: string;
  statsPort?: string;
  server: string;
  xds?: string;
  drainTimeout: string;
  concurrency: string;
  tokenFile?: string;
  token?: string;
  hostAddress?: string;
  capture?: boolean;
  dnsPort?: string;
  maxConnections?: string;
  maxHeapMb?: string;
}

/** `--protocol` values; `auto` (the default) is Istio's: detected per connection, upstream as downstream. */
const PROTOCOLS: Record<string, string> = {
  auto: 'UNKNOWN',
  http: 'HTTP',
  http2: 'HTTP2',
  grpc: 'GRPC',
  tcp: 'TCP',
  tls: 'TLS',
};
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function port(flag: string, text: string, allowZero: boolean): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= (allowZero ? 0 : 1) && n <= 65535))
    throw new UsageError(
      `${flag} ${JSON.stringify(text)} is not a port; use a number from ${allowZero ? 0 : 1} to 65535`,
    );
  return n;
}

/** A Kubernetes container port name (IANA service name): 1-15 of a-z, 0-9 and '-', a letter among them. */
function portName(text: string): string {
  if (/^(?!-)(?!.*--)[a-z0-9-]{1,15}(?<!-)$/.test(text) && /[a-z]/.test(text)) return text;
  throw new UsageError(
    `--app-port-name ${JSON.stringify(text)} must be a port name like http or grpc: up to 15 lowercase letters, digits and single dashes, with a letter`,
  );
}

function workers(text: string): number {
  const n = /^\d{1,3}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= 256))
    throw new UsageError(
      `--concurrency ${JSON.stringify(text)} must be a number of worker processes from 1 to 256`,
    );
  return n;
}

/** A whole number from 1 to `max` for `flag`, or a UsageError saying so. */
function positive(flag: string, text: string, max: number): number {
  const n = /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= max))
    throw new UsageError(`${flag} ${JSON.stringify(text)} must be a number from 1 to ${max}`);
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Turns parsed flags into a SidecarConfig; bad input is a UsageError that says what to fix. */
export function toSidecarConfig(opts: ProxyOptions): SidecarConfig {
  if (!NAME.test(opts.service))
    throw new UsageError(`--service ${JSON.stringify(opts.service)} must be a DNS label like reviews`);
  if (!NAME.test(opts.namespace))
    throw new UsageError(`--namespace ${JSON.stringify(opts.namespace)} must be a DNS label like default`);
  const protocol = PROTOCOLS[opts.protocol.toLowerCase()];
  if (!protocol)
    throw new UsageError(
      `--protocol ${JSON.stringify(opts.protocol)} must be one of ${Object.keys(PROTOCOLS).join(', ')}`,
    );
  const labels: Record<string, string> = {};
  for (const l of opts.label) {
    const eq = l.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label ${JSON.stringify(l)} must look like key=value`);
    labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  labels.app = opts.service;
  labels.version = opts.version;
  const drain = parseDuration(opts.drainTimeout);
  if ('error' in drain) throw new UsageError(`--drain-timeout: ${drain.error}`);
  if (opts.xds !== undefined && !/^[^:]+:\d+$|^\[[^\]]+\]:\d+$/.test(opts.xds))
    throw new UsageError(`--xds ${JSON.stringify(opts.xds)} is not HOST:PORT`);
  if (opts.tokenFile !== undefined && opts.token !== undefined)
    throw new UsageError('give the bootstrap token once: --token-file FILE or --token TOKEN, not both');
  if (opts.capture && opts.concurrency !== '1')
    throw new UsageError(
      '--capture works with --concurrency 1 only (one process reads the original destinations)',
    );
  if (opts.dnsPort !== undefined && opts.concurrency !== '1')
    throw new UsageError('--dns-port works with --concurrency 1 only (one process serves mesh DNS)');
  if (opts.hostAddress !== undefined && isIP(opts.hostAddress) === 0)
    throw new UsageError(
      `--host-address ${JSON.stringify(opts.hostAddress)} is not an IP address; give the address other hosts reach this one on, e.g. 10.0.0.12`,
    );
  return {
    service: opts.service,
    namespace: opts.namespace,
    version: opts.version,
    labels,
    serviceAccount: opts.serviceAccount ?? opts.service,
    appPort: port('--app-port', opts.appPort, false),
    ...(opts.appPortName === undefined ? {} : { appPortName: portName(opts.appPortName) }),
    servicePort: port('--service-port', opts.servicePort, false),
    protocol,
    inboundPort: port('--inbound-port', opts.inboundPort, true),
    outboundPort: port('--outbound-port', opts.outboundPort, true),
    adminPort: port('--admin-port', opts.adminPort, true),
    server: opts.server,
    xdsAddress: opts.xds,
    drainTimeoutMs: drain.ms,
    // A sidecar waits for its control plane as long as it takes (as Envoy's agent does), saying why.
    bootstrapTimeoutMs: Number.POSITIVE_INFINITY,
    concurrency: workers(opts.concurrency),
    ...(opts.capture ? { capture: true } : {}),
    ...(opts.dnsPort !== undefined ? { dnsPort: port('--dns-port', opts.dnsPort, true) } : {}),
    ...(opts.maxConnections !== undefined
      ? { maxConnections: positive('--max-connections', opts.maxConnections, 10_000_000) }
      : {}),
    ...(opts.maxHeapMb !== undefined
      ? { maxHeapBytes: positive('--max-heap-mb', opts.maxHeapMb, 1_048_576) * 1024 * 1024 }
      : {}),
    ...(opts.hostAddress !== undefined ? { hostAddress: opts.hostAddress } : {}),
    ...(opts.statsPort !== undefined ? { statsPort: port('--stats-port', opts.statsPort, true) } : {}),
    ...(opts.tokenFile !== undefined
      ? { token: { kind: 'file' as const, file: resolve(opts.tokenFile) } }
      : opts.token !== undefined
        ? { token: { kind: 'value' as const, token: opts.token } }
        : {}),
  };
}

export function register(program: Command): void {
  program
    .command('proxy')
    .description('run a sidecar proxy for one workload (inbound, outbound and admin ports; config over xDS)')
    .requiredOption('--service <name>', 'service this workload serves')
    .option('--namespace <ns>', 'namespace of the workload', 'default')
    .option('--version <v>', 'version label of the workload', 'latest')
    .option('--label <k=v>', 'extra workload label (repeatable)', collect, [])
    .option('--service-account <sa>', 'service account (identity); defaults to the service name')
    .requiredOption('--app-port <port>', 'port the app listens on (127.0.0.1)')
    .option(
      '--app-port-name <name>',
      "the app port's name, as its Kubernetes container port's (a Linkerd Server may select the port by it)",
    )
    .option('--service-port <port>', 'service port clients use', '80')
    .option(
      '--protocol <p>',
      'protocol of the service port: auto (detected per connection, as Istio), http, http2, grpc, tcp or tls',
      'auto',
    )
    .option('--inbound-port <port>', 'inbound listener port (0 picks one)', '15006')
    .option('--outbound-port <port>', 'outbound listener port (0 picks one)', '15001')
    .option(
      '--admin-port <port>',
      'admin port: /ready, /stats/prometheus, /config_dump, /clusters (0 picks one)',
      '15000',
    )
    .option(
      '--server <url>',
      'control-plane API URL (WEFT_SERVER; several replicas: URL,URL; the proxy fails over)',
      environment.server,
    )
    .option('--xds <host:port>', 'xDS address (skips asking --server for it)')
    .option('--drain-timeout <duration>', 'on SIGTERM, wait this long for in-flight requests', '5s')
    .option('--concurrency <n>', 'worker processes serving traffic (multi-core mode when more than 1)', '1')
    .option(
      '--token-file <file>',
      'bootstrap token proving the workload identity (weft token create); re-read at each renewal. ' +
        'Without a token the proxy mints one, which the control plane allows from its own host only',
    )
    .option('--token <token>', 'the bootstrap token itself (tests and development; prefer --token-file)')
    .option(
      '--capture',
      "the app's traffic is redirected here by iptables (weft run --capture installs the rules): a connection " +
        'to the outbound port that was going elsewhere is forwarded there, over mTLS when it is a mesh endpoint',
    )
    .option(
      '--dns-port <port>',
      'serve mesh DNS on 127.0.0.1:PORT, UDP and TCP (0 picks one): A/AAAA of mesh names are their VIPs, other ' +
        "queries go to the resolvers of /etc/resolv.conf (weft run --capture serves it and redirects the app's port 53 here)",
    )
    .option(
      '--host-address <ip>',
      'address other hosts reach this workload on, registered as its endpoint (default: the source address ' +
        'of the route to the control plane; 127.0.0.1 when the control plane is on loopback)',
    )
    .option(
      '--stats-port <port>',
      "the stats port: admin's read-only endpoints on the host address, mutual TLS, for the control plane's " +
        'traffic view (0 picks one; default: a free port when the host address is not loopback, none otherwise)',
    )
    .option(
      '--max-connections <n>',
      'most connections open at once on each listener (per worker process); more are closed at once (default: no limit)',
    )
    .option(
      '--max-heap-mb <n>',
      'overload manager: at 95% of this heap new requests get 503 (flag OL), at 98% new connections are closed (default: off)',
    )
    .action(async (opts: ProxyOptions) => {
      deferDefaultTrust();
      const config = toSidecarConfig(opts);
      const log = logger({ component: 'proxy' });
      const sidecar = await Sidecar.start(config);
      drainOnSignal(sidecar, config.drainTimeoutMs, log);
      await sidecar.whenReady();
      const p = sidecar.ports;
      process.stdout.write(
        `weft proxy ready: service ${config.service}.${config.namespace} inbound 0.0.0.0:${p.inbound} outbound 127.0.0.1:${p.outbound} admin 127.0.0.1:${p.admin}${p.dns ? ` dns 127.0.0.1:${p.dns}` : ''}\n`,
      );
    });
}
