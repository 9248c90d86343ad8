// The request paths every HTTP benchmark compares: direct, nginx, HAProxy, the Node peer and floor, one weft proxy, weft and HAProxy mesh paths.
import { join } from 'node:path';
import { type BenchContext, REPO } from './context.ts';
import { startHaproxy } from './haproxy.ts';
import { startHaproxyMesh } from './haproxy-mesh.ts';
import { probeHttp } from './http-probe.ts';
import { BODY_1KIB, startNginxProxy } from './nginx.ts';
import { freePort } from './ports.ts';
import { type Child, startChild } from './processes.ts';
import {
  applyYaml,
  type ControlPlane,
  type HopTransport,
  hopTransport,
  mustApply,
  STRICT_MTLS_YAML,
  serviceEntryYaml,
  startProxy,
  waitUntil,
} from './weft.ts';

/** A path that is up and answering: where the load generator connects and what it sends. */
export interface RunningPath {
  /** Row label. */
  label: string;
  /** Port on 127.0.0.1 the client connects to. */
  port: number;
  /** Host header the client must send (weft routes by it), if any. */
  host?: string;
  /** Proxy processes on the path (their CPU and memory are what a proxy costs), by role. */
  proxies: ProxyProcess[];
  /** For the mesh path: how the sidecar-to-sidecar hop is carried. */
  transport?: HopTransport;
  /** Notes for the table (e.g. why mTLS is off). */
  notes: string[];
  stop(): Promise<void>;
}

/** One proxy process of a path. */
export interface ProxyProcess {
  /** e.g. "client sidecar". */
  role: string;
  child: Child;
}

/** The kinds of path, in table order. */
export type PathKind =
  | 'direct'
  | 'nginx'
  | 'haproxy'
  | 'node-peer'
  | 'node-floor'
  | 'haproxy-mesh'
  | 'weft'
  | 'weft-mesh'
  | 'weft-multicore'
  | 'weft-reference';

export const PATH_LABELS: Record<PathKind, string> = {
  direct: 'direct (no proxy)',
  nginx: 'nginx reverse proxy',
  haproxy: 'HAProxy',
  'node-peer': 'Node peer (@fastify/http-proxy)',
  'node-floor': 'Node.js floor: byte relay, no HTTP (reference, not a proxy)',
  'haproxy-mesh': 'HAProxy mesh pair, a reference (client side → server side)',
  weft: 'one weft proxy (outbound listener)',
  'weft-mesh': 'weft mesh path (client sidecar → server sidecar)',
  'weft-multicore': 'one weft proxy, multi-core mode',
  'weft-reference': 'one weft proxy at the reference commit',
};

/** What starting a weft path needs. */
export interface WeftPathOptions {
  cp: ControlPlane;
  /** Extra `weft proxy` flags (multi-core mode). */
  extraArgs?: string[];
  /** The `bin/weft.js` to run (default: this checkout's; a --reference checkout's for A/B). */
  bin?: string;
  /** Node/V8 flags for the proxies (A/B of flags, bench/tail-ab.ts). */
  nodeArgs?: string[];
}

let serial = 0;

async function ready(path: RunningPath, what: string): Promise<RunningPath> {
  const r = await waitUntil(() => probeHttp(path.port, path.host, BODY_1KIB.length), 30_000);
  if (r.outcome === 'ok') return path;
  await path.stop();
  throw new Error(`${what} did not answer 200 with the 1 KiB body within 30 s: ${r.last}`);
}

async function stopAll(proxies: readonly ProxyProcess[]): Promise<void> {
  for (const p of [...proxies].reverse()) await p.child.stop();
}

function one(role: string, child: Child): ProxyProcess[] {
  return [{ role, child }];
}

/** A path through one reference proxy process listening on `port`, once it answers. */
function throughOne(label: string, port: number, child: Child): Promise<RunningPath> {
  const proxies = one(label, child);
  return ready({ label, port, proxies, notes: [], stop: () => stopAll(proxies) }, label);
}

/** Starts the path of `kind` in front of the backend on `backendPort`; throws with a reason when it cannot. */
export async function startPath(
  ctx: BenchContext,
  kind: PathKind,
  backendPort: number,
  /** Needed by the weft paths: a control plane, or why there is none (the weft paths then fail with it). */
  weft?: WeftPathOptions | Error,
): Promise<RunningPath> {
  const label = PATH_LABELS[kind];
  switch (kind) {
    case 'direct':
      return { label, port: backendPort, proxies: [], notes: [], stop: async () => {} };
    case 'nginx': {
      const port = await freePort();
      const child = await startNginxProxy(ctx, port, backendPort);
      return throughOne(label, port, child);
    }
    case 'haproxy': {
      const port = await freePort();
      const child = await startHaproxy(ctx, port, backendPort);
      return throughOne(label, port, child);
    }
    case 'node-peer': {
      const port = await freePort();
      const child = await startChild({
        name: 'node-peer',
        command: ctx.node,
        args: [join(REPO, 'bench', 'lib', 'node-peer.ts'), String(port), String(backendPort)],
        readyLine: /node-peer ready/,
      });
      return throughOne(label, port, child);
    }
    case 'node-floor': {
      const child = await startChild({
        name: 'node-floor',
        command: ctx.node,
        args: [join(REPO, 'bench', 'lib', 'node-floor.ts'), '0', String(backendPort)],
        readyLine: /node-floor ready (\d+)/,
      });
      const proxies = one(label, child);
      const notes = [
        'a floor for CPU and latency, not memory: it runs from its .ts source (Node loads its type stripper), which a bundled weft proxy does not',
      ];
      const port = Number(child.readyMatch![1]);
      return ready({ label, port, proxies, notes, stop: () => stopAll(proxies) }, label);
    }
    case 'haproxy-mesh': {
      const { port, proxies } = await startHaproxyMesh(ctx, backendPort);
      const notes = [
        'client → HAProxy (client side) → mTLS, client certificate required and verified → HAProxy (server side) → backend; one thread each',
      ];
      const transport: HopTransport = 'mTLS';
      return ready({ label, port, proxies, transport, notes, stop: () => stopAll(proxies) }, label);
    }
    case 'weft':
    case 'weft-multicore':
    case 'weft-reference': {
      if (!weft) throw new Error('a weft path needs a control plane');
      if (weft instanceof Error) throw weft;
      const reference = kind === 'weft-reference' ? ctx.reference : undefined;
      if (kind === 'weft-reference' && !reference) throw new Error('no --reference checkout given');
      const name = `bench-backend-${++serial}`;
      const host = `${name}.bench.local`;
      await mustApply(
        ctx,
        weft.cp,
        name,
        serviceEntryYaml({ name, host, port: 80, protocol: 'HTTP', targetPort: backendPort }),
      );
      const proxy = await startProxy(ctx, weft.cp, {
        service: `bench-edge-${serial}`,
        appPort: await freePort(),
        extraArgs: weft.extraArgs,
        bin: reference && join(reference.root, 'bin', 'weft.js'),
      });
      const proxies = one('weft proxy', proxy.child);
      const path: RunningPath = {
        label,
        port: proxy.ports.outbound,
        host,
        proxies,
        notes: [
          `client → weft outbound listener (Host: ${host}, a ServiceEntry) → backend${reference ? `; weft at ${reference.commit}` : ''}`,
        ],
        stop: () => stopAll(proxies),
      };
      return ready(path, label);
    }
    case 'weft-mesh': {
      if (!weft) throw new Error('a weft path needs a control plane');
      if (weft instanceof Error) throw weft;
      return startMesh(ctx, weft, backendPort, { protocol: 'http', servicePort: 80 }).then((m) =>
        ready({ ...m, label }, label),
      );
    }
  }
}

/** Settings of a mesh path's server side. */
export interface MeshOptions {
  /** --protocol of the server sidecar: http, grpc, tcp. */
  protocol: string;
  /** --service-port of the server sidecar. */
  servicePort: number;
}

/**
 * Two sidecars: the client's (its outbound listener is where the load generator connects)
 * and the server's (its inbound listener fronts the backend). Asks for STRICT mTLS first and
 * reports how the hop is really carried, from the proxies' own config.
 */
export async function startMesh(
  ctx: BenchContext,
  weft: WeftPathOptions,
  backendPort: number,
  o: MeshOptions,
): Promise<RunningPath & { service: string }> {
  const notes: string[] = [];
  const strict = await applyYaml(ctx, weft.cp, 'peer-authentication', STRICT_MTLS_YAML);
  if (strict.outcome === 'rejected')
    notes.push(`PeerAuthentication STRICT not accepted by this build (${firstLine(strict.message)})`);
  const service = `bench-server-${++serial}`;
  const server = await startProxy(ctx, weft.cp, {
    service,
    appPort: backendPort,
    servicePort: o.servicePort,
    protocol: o.protocol,
    extraArgs: weft.extraArgs,
    bin: weft.bin,
    nodeArgs: weft.nodeArgs,
  });
  let client: Awaited<ReturnType<typeof startProxy>>;
  try {
    client = await startProxy(ctx, weft.cp, {
      service: `bench-client-${serial}`,
      appPort: await freePort(),
      extraArgs: weft.extraArgs,
      bin: weft.bin,
      nodeArgs: weft.nodeArgs,
    });
  } catch (err) {
    await server.child.stop();
    throw err;
  }
  const cluster = `outbound|${o.servicePort}||${service}.default.svc.cluster.local`;
  const proxies: ProxyProcess[] = [
    { role: 'weft server sidecar', child: server.child },
    { role: 'weft client sidecar', child: client.child },
  ];
  const path = {
    label: 'weft mesh',
    service,
    port: client.ports.outbound,
    host: o.servicePort === 80 ? service : `${service}:${o.servicePort}`,
    proxies,
    transport: 'plaintext' as HopTransport,
    notes,
    stop: () => stopAll(proxies),
  };
  // The server's endpoint reaches the client sidecar through EDS; give it time before judging the transport.
  await waitUntil(
    async () => ((await hopTransport(client, server, cluster)) === 'plaintext' ? 'not yet' : 'ok'),
    2000,
  );
  path.transport = await hopTransport(client, server, cluster);
  if (path.transport === 'plaintext' && o.protocol === 'http') {
    // Cross-check on the wire: a server sidecar that takes plaintext HTTP on its inbound port is not enforcing mTLS.
    const plain = await waitUntil(() => probeHttp(server.ports.inbound, service, BODY_1KIB.length), 5000);
    if (plain.outcome === 'timed-out')
      path.transport = 'unknown: no TLS in config_dump, but the inbound port refuses plaintext HTTP';
  }
  return path;
}

/** The first line of a `weft apply` error, without the temp file's path. */
function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.replace(/^error: \S+\.yaml:\d+:\d+: (document \d+: )?(kind: )?/, '');
}
