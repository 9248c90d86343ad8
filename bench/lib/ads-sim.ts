// Simulated weft sidecars (grpc-js ADS streams that subscribe and ACK like Envoy) and a `weft control-plane` child, for the xDS benchmarks.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CaService } from '../../src/control/ca/ca-service.ts';
import { generateWorkloadKey } from '../../src/identity/workload-key.ts';
import {
  adsService,
  type DiscoveryRequestMessage,
  type DiscoveryResponseMessage,
} from '../../src/xds/discovery.ts';
import { decodeResource } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';

/** Every simulated sidecar runs as this service account of `default` (one certificate for all). */
const BENCH_SERVICE_ACCOUNT = 'bench';

/** Whether the control plane of the checkout `root` serves xDS over mutual TLS. */
export function servesMtls(root: string): boolean {
  return existsSync(join(root, 'src/control/xds/xds-credentials.ts'));
}

/**
 * How the simulated sidecars reach the control plane of `root`: over mutual TLS with a workload
 * certificate its CA (in `dataDir`) issues for ns/default/sa/bench, when that checkout serves xDS
 * over mTLS (it has src/control/xds/xds-credentials.ts); in plaintext for older checkouts.
 */
export async function sidecarCredentials(root: string, dataDir: string): Promise<grpc.ChannelCredentials> {
  if (!servesMtls(root)) return grpc.credentials.createInsecure();
  const ca = await CaService.open({ dataDir });
  const key = await generateWorkloadKey();
  const issued = await ca.authority.sign(key.csrPem, {
    namespace: 'default',
    serviceAccount: BENCH_SERVICE_ACCOUNT,
  });
  return grpc.credentials.createSsl(
    Buffer.from(ca.trustBundle()),
    Buffer.from(key.keyPem),
    Buffer.from(issued.certificateChainPem),
    // The bench trusts the control plane it started; the server's SPIFFE ID is not checked.
    { checkServerIdentity: () => undefined },
  );
}

const AdsClient = grpc.makeGenericClientConstructor(adsService, 'AggregatedDiscoveryService');

type AdsCall = grpc.ClientDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>;

/** CDS version → the EDS names it implies (decoded once, shared by every client). */
const edsNamesByVersion = new Map<string, string[]>();

/** One simulated sidecar: subscribes like Envoy and ACKs every response at once. */
export class SimulatedSidecar {
  /** Time of the latest ACK per type, and the version it ACKed. */
  readonly acked = new Map<string, { version: string; at: number }>();
  readonly #client: grpc.Client;
  readonly #call: AdsCall;
  #edsNames: string[] = [];
  #edsNonce = '';
  #edsVersion = '';

  /** `index` picks the node id and address (10.x.y.z); `service` the service it is a sidecar of. */
  constructor(
    address: string,
    index: number,
    service: string,
    credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
    /** The admin port it declares (WEFT_ADMIN_PORT), for benchmarks that serve one. */
    adminPort?: number,
  ) {
    this.#client = new AdsClient(address, credentials, {
      'grpc.use_local_subchannel_pool': 1,
    });
    const methods = this.#client as unknown as Record<string, () => AdsCall>;
    this.#call = methods.StreamAggregatedResources.call(this.#client);
    this.#call.on('data', (r: DiscoveryResponseMessage) => this.#onResponse(r));
    this.#call.on('error', () => {});
    this.#call.write({
      node: {
        id: `sidecar~${index}`,
        cluster: service,
        metadata: jsonToStruct({
          WEFT_SIDECAR: 'true',
          NAMESPACE: 'default',
          SERVICE_ACCOUNT: BENCH_SERVICE_ACCOUNT,
          LABELS: { app: service, version: 'v1' },
          INSTANCE_IPS: [`10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`],
          WEFT_SERVICE: service,
          WEFT_SERVICE_PORT: '80',
          WEFT_APP_PORT: '8080',
          ...(adminPort === undefined ? {} : { WEFT_ADMIN_PORT: String(adminPort) }),
        }),
      },
      type_url: TYPE_URL.cluster,
      resource_names: [],
    });
    this.#call.write({ type_url: TYPE_URL.listener, resource_names: [] });
  }

  #onResponse(r: DiscoveryResponseMessage): void {
    const type = r.type_url ?? '';
    const version = r.version_info ?? '';
    const nonce = r.nonce ?? '';
    let names: string[] = [];
    if (type === TYPE_URL.endpoint) {
      this.#edsNonce = nonce;
      this.#edsVersion = version;
      names = this.#edsNames;
    } else if (type === TYPE_URL.route) names = ['outbound'];
    this.#call.write({ type_url: type, version_info: version, response_nonce: nonce, resource_names: names });
    this.acked.set(type, { version, at: performance.now() });
    if (type === TYPE_URL.listener && !this.acked.has(TYPE_URL.route)) {
      this.#call.write({ type_url: TYPE_URL.route, resource_names: ['outbound'] });
    }
    if (type === TYPE_URL.cluster) {
      let eds = edsNamesByVersion.get(version);
      if (!eds) {
        eds = r.resources
          .map((any) => decodeResource(any.type_url, any.value))
          .filter((c) => c.type === 'EDS')
          .map((c) => String(c.name));
        edsNamesByVersion.set(version, eds);
      }
      if (eds.join() !== this.#edsNames.join()) {
        this.#edsNames = eds;
        // A subscription change rides on the latest EDS nonce (or opens the EDS watch).
        this.#call.write({
          type_url: TYPE_URL.endpoint,
          resource_names: eds,
          version_info: this.#edsVersion,
          response_nonce: this.#edsNonce,
        });
      }
    }
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}

export interface ControlPlaneProcess {
  pid: number;
  api: string;
  xds: string;
  stop(): Promise<void>;
}

/** How to start `weft control-plane` for a benchmark. */
export interface ControlPlaneOptions {
  /** The checkout to run (its `bin/weft.js`); default: this one. */
  root?: string;
  dataDir: string;
  /** WEFT_LOG_LEVEL of the control plane (its logs go to this process's stderr). */
  logLevel: string;
  /** Write a V8 CPU profile of the control plane into this directory. */
  profile?: string;
  /** More `weft control-plane` flags. */
  extraArgs?: string[];
}

export const THIS_ROOT = new URL('../../', import.meta.url).pathname;

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlaneProcess> {
  const { dataDir } = options;
  const child = spawn(
    process.execPath,
    [
      ...(options.profile ? ['--cpu-prof', '--cpu-prof-dir', options.profile] : []),
      join(options.root ?? THIS_ROOT, 'bin/weft.js'),
      'control-plane',
      '--data-dir',
      dataDir,
      '--api',
      '127.0.0.1:0',
      '--xds',
      '127.0.0.1:0',
      ...(options.extraArgs ?? []),
    ],
    { env: { ...process.env, WEFT_LOG_LEVEL: options.logLevel }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /api (http:\/\/[\d.:]+) xds ([\d.:]+)/.exec(out);
      if (m) resolve(m);
    });
    child.on('exit', (code) => reject(new Error(`control plane exited (${code}) before it was ready`)));
  });
  return {
    pid: child.pid!,
    api: ready[1],
    xds: ready[2],
    stop: async () => {
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

export async function applyYaml(api: string, text: string): Promise<void> {
  const response = await fetch(`${api}/api/v1/apply`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sources: [{ file: 'bench.yaml', text }] }),
  });
  if (response.status !== 200) throw new Error(`apply answered ${response.status}: ${await response.text()}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until no client has received anything for `quietMs` and every one has all four types. */
export async function settle(
  clients: SimulatedSidecar[],
  quietMs = 1500,
  timeoutMs = 300_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const complete = clients.every((c) => c.acked.size === 4);
    const last = Math.max(...clients.flatMap((c) => [...c.acked.values()].map((a) => a.at)));
    if (complete && performance.now() - last > quietMs) return;
    if (Date.now() > deadline) throw new Error('clients did not settle');
    await sleep(100);
  }
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
