// weft as a user runs it: `weft control-plane` on a temp data dir, `weft apply`, `weft proxy` sidecars, all real processes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchContext, REPO } from './context.ts';
import { type Child, runCommand, startChild } from './processes.ts';

export const WEFT_BIN = join(REPO, 'bin', 'weft.js');
const QUIET = { WEFT_LOG_LEVEL: 'warn' };

/** A running control plane. */
export interface ControlPlane {
  child: Child;
  apiUrl: string;
  xdsAddress: string;
}

let counter = 0;

/** Starts `weft control-plane` on free ports with a fresh data dir under the run's temp dir. */
export async function startControlPlane(ctx: BenchContext): Promise<ControlPlane> {
  const dataDir = join(ctx.tmp, `weft-data-${++counter}`);
  const child = await startChild({
    name: 'weft control-plane',
    command: ctx.node,
    args: [
      WEFT_BIN,
      'control-plane',
      '--data-dir',
      dataDir,
      '--api',
      '127.0.0.1:0',
      '--xds',
      '127.0.0.1:0',
      '--push-debounce',
      '10ms',
    ],
    env: QUIET,
    readyLine: /weft control-plane ready: api (http:\/\/\S+) xds (\S+)/,
  });
  return { child, apiUrl: child.readyMatch![1], xdsAddress: child.readyMatch![2] };
}

/** Starts a control plane, or returns why it could not, so that a benchmark still measures its references. */
export async function controlPlaneOrError(ctx: BenchContext): Promise<ControlPlane | Error> {
  try {
    return await startControlPlane(ctx);
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return new Error(`weft control-plane did not start: ${message}`);
  }
}

/** Stops a control plane that controlPlaneOrError started (nothing to do for an Error). */
export async function stopControlPlane(cp: ControlPlane | Error): Promise<void> {
  if (!(cp instanceof Error)) await cp.child.stop();
}

/** The outcome of `weft apply`. */
export type ApplyOutcome = { outcome: 'applied' } | { outcome: 'rejected'; message: string };

/** Runs `weft apply -f FILE --server API` with this YAML. */
export async function applyYaml(
  ctx: BenchContext,
  cp: ControlPlane,
  name: string,
  yaml: string,
): Promise<ApplyOutcome> {
  const dir = join(ctx.tmp, 'yaml');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${++counter}.yaml`);
  writeFileSync(file, yaml);
  const result = await runCommand(
    'weft apply',
    ctx.node,
    [WEFT_BIN, 'apply', '-f', file, '--server', cp.apiUrl],
    {
      env: QUIET,
      timeoutMs: 30_000,
    },
  );
  if (result.code === 0) return { outcome: 'applied' };
  return { outcome: 'rejected', message: `${result.stdout}${result.stderr}`.trim() };
}

/** Like applyYaml, but a rejection is fatal (the harness's own resources must apply). */
export async function mustApply(
  ctx: BenchContext,
  cp: ControlPlane,
  name: string,
  yaml: string,
): Promise<void> {
  const r = await applyYaml(ctx, cp, name, yaml);
  if (r.outcome === 'rejected')
    throw new Error(`weft apply of the benchmark's ${name} resources failed:\n${r.message}`);
}

/** The ports a running `weft proxy` bound. */
export interface ProxyPorts {
  inbound: number;
  outbound: number;
  admin: number;
}

/** A running `weft proxy`. */
export interface WeftProxy {
  child: Child;
  ports: ProxyPorts;
}

/** How to start one sidecar. */
export interface ProxyOptions {
  /** --service */
  service: string;
  /** --app-port: the app next to it (for a client-only sidecar, any unused port). */
  appPort: number;
  /** --service-port (default 80). */
  servicePort?: number;
  /** --protocol: http, http2, grpc, tcp. */
  protocol?: string;
  /** Extra flags (e.g. the multi-core flag). */
  extraArgs?: string[];
  /** The `bin/weft.js` to run (default: this checkout's). */
  bin?: string;
  /** Node/V8 flags before the script (kept when `weft proxy` re-executes with its own flags). */
  nodeArgs?: string[];
}

/** Starts `weft proxy` with ports picked by the proxy itself, and waits for its ready line. */
export async function startProxy(ctx: BenchContext, cp: ControlPlane, o: ProxyOptions): Promise<WeftProxy> {
  const child = await startChild({
    name: `weft proxy (${o.service})`,
    command: ctx.node,
    args: [
      ...(o.nodeArgs ?? []),
      o.bin ?? WEFT_BIN,
      'proxy',
      '--service',
      o.service,
      '--app-port',
      String(o.appPort),
      '--service-port',
      String(o.servicePort ?? 80),
      '--protocol',
      o.protocol ?? 'http',
      '--inbound-port',
      '0',
      '--outbound-port',
      '0',
      '--admin-port',
      '0',
      '--drain-timeout',
      '100ms',
      '--server',
      cp.apiUrl,
      ...(o.extraArgs ?? []),
    ],
    env: QUIET,
    readyLine: /weft proxy ready: .*inbound \S+:(\d+) outbound \S+:(\d+) admin \S+:(\d+)/,
    readyTimeoutMs: 60_000,
  });
  const m = child.readyMatch!;
  return { child, ports: { inbound: Number(m[1]), outbound: Number(m[2]), admin: Number(m[3]) } };
}

/** `weft proxy --help`, to learn which optional modes this build offers. */
export async function proxyHelp(ctx: BenchContext): Promise<string> {
  const r = await runCommand('weft proxy --help', ctx.node, [WEFT_BIN, 'proxy', '--help'], {
    env: QUIET,
    timeoutMs: 30_000,
  });
  return r.stdout + r.stderr;
}

/** A flag of `weft proxy` that runs several workers (multi-core mode), if this build has one. */
export interface MultiCoreFlag {
  flag: string;
  /** The help text's line for it. */
  help: string;
}

/** Finds a workers/concurrency flag taking a number in `weft proxy --help`. */
export function multiCoreFlag(help: string): MultiCoreFlag | undefined {
  for (const line of help.split('\n')) {
    const m = /(--(?:workers|concurrency|threads|cpus|processes))[ =]<[^>]+>/.exec(line);
    if (m) return { flag: m[1], help: line.trim() };
  }
  return undefined;
}

/** The admin /config_dump of a proxy (camelCase JSON), or undefined when it cannot be read. */
export async function configDump(proxy: WeftProxy): Promise<unknown> {
  try {
    const res = await fetch(`http://127.0.0.1:${proxy.ports.admin}/config_dump`);
    return res.ok ? await res.json() : undefined;
  } catch {
    return undefined;
  }
}

function findResource(dump: unknown, typeSuffix: string, name: string): Record<string, unknown> | undefined {
  const configs = (
    dump as { configs?: { typeUrl?: string; resources?: { name?: string; resource?: unknown }[] }[] }
  )?.configs;
  for (const c of configs ?? []) {
    if (!c.typeUrl?.endsWith(typeSuffix)) continue;
    for (const r of c.resources ?? []) if (r.name === name) return r.resource as Record<string, unknown>;
  }
  return undefined;
}

/** How the sidecar-to-sidecar hop is carried. */
export type HopTransport =
  | 'mTLS'
  | 'TLS (server not verifying clients)'
  | 'plaintext'
  | 'unknown: no TLS in config_dump, but the inbound port refuses plaintext HTTP';

/**
 * Reads from the proxies' own config which transport the mesh hop uses: the client sidecar's
 * cluster for the service must carry an UpstreamTlsContext (with a client certificate) and the
 * server sidecar's inbound listener a DownstreamTlsContext that requires client certificates.
 */
export async function hopTransport(
  client: WeftProxy,
  server: WeftProxy,
  clusterName: string,
): Promise<HopTransport> {
  const cluster = findResource(await configDump(client), 'Cluster', clusterName);
  const inbound = findResource(await configDump(server), 'Listener', 'inbound');
  // weft's auto mTLS puts the TLS socket in transport_socket_matches (sidecar endpoints), Istio-style.
  const upstreamTls = JSON.stringify(
    cluster?.transportSocket ?? cluster?.transport_socket ?? cluster?.transportSocketMatches ?? '',
  ).includes('UpstreamTlsContext');
  if (!upstreamTls) return 'plaintext';
  const text = JSON.stringify(inbound ?? '');
  const requiresClientCert =
    text.includes('DownstreamTlsContext') &&
    /"require_?[cC]lient_?[cC]ertificate":\{"value":true\}|"require_?[cC]lient_?[cC]ertificate":true/.test(
      text,
    );
  return requiresClientCert ? 'mTLS' : 'TLS (server not verifying clients)';
}

/** Asks Istio for mesh-wide STRICT mTLS; older builds reject PeerAuthentication, which the caller reports. */
export const STRICT_MTLS_YAML = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
spec:
  mtls:
    mode: STRICT
`;

/** A ServiceEntry + WorkloadEntry that put a process on 127.0.0.1:port in the mesh as `host`. */
export function serviceEntryYaml(o: {
  name: string;
  host: string;
  port: number;
  protocol: string;
  targetPort: number;
}): string {
  const portName = o.protocol.toLowerCase();
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${o.name}
spec:
  hosts: [${o.host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - number: ${o.port}
    name: ${portName}
    protocol: ${o.protocol}
  workloadSelector:
    labels:
      app: ${o.name}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ${o.name}
spec:
  address: 127.0.0.1
  labels: {app: ${o.name}}
  ports: {${portName}: ${o.targetPort}}
`;
}

/** Polls `probe` until it returns 'ok' or `timeoutMs` passes; returns the last failure reason otherwise. */
export async function waitUntil(
  probe: () => Promise<'ok' | string>,
  timeoutMs: number,
): Promise<{ outcome: 'ok' } | { outcome: 'timed-out'; last: string }> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (last === 'ok') return { outcome: 'ok' };
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { outcome: 'timed-out', last };
}
