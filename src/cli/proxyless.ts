// `weft proxyless [flags] [-- COMMAND ...]`: a proxyless gRPC app's agent: its xDS bootstrap, an mTLS relay to the control plane, and its workload certificate kept in files and rotated (gRFC A29).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseDuration } from '../config/duration.ts';
import { environment } from '../env.ts';
import { ServerUnavailableError, UsageError } from '../errors.ts';
import {
  CONTROL_PLANE_IDENTITY,
  checkServerSpiffeId,
  formatSpiffeId,
  parseSpiffeId,
} from '../identity/spiffe.ts';
import type { IdentitySnapshot, WorkloadIdentity } from '../identity/workload-identity.ts';
import { logger } from '../observe/log.ts';
import { startCheckedIdentity, type TokenSource } from '../proxy/tls/workload-secrets.ts';
import type { GrpcCallTls } from '../proxy/xds-client/grpc-call.ts';
import { exitCodeOf, UnitChild } from '../run/child.ts';
import { CertificateFiles, grpcBootstrap } from '../run/proxyless-files.ts';
import { XdsRelay } from '../run/xds-relay.ts';
import { checkIdentityFlags } from './token.ts';

interface ProxylessOptions {
  serviceAccount: string;
  namespace: string;
  label: string[];
  server: string;
  xdsAddress?: string;
  dir?: string;
  nodeId?: string;
  refreshInterval: string;
  tokenFile?: string;
  token?: string;
}

const log = logger({ component: 'proxyless' });

function labelsOf(flags: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const l of flags) {
    const eq = l.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label ${JSON.stringify(l)} must look like key=value`);
    labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return labels;
}

function tokenSource(opts: ProxylessOptions): TokenSource {
  if (opts.tokenFile !== undefined && opts.token !== undefined)
    throw new UsageError('give the bootstrap token once: --token-file FILE or --token TOKEN, not both');
  if (opts.tokenFile !== undefined) return { kind: 'file', file: resolve(opts.tokenFile) };
  if (opts.token !== undefined) return { kind: 'value', token: opts.token };
  return { kind: 'mint' };
}

/** Where the control plane serves xDS over mTLS, and the identity it presents, from `GET /api/v1/bootstrap`. */
async function controlPlaneXds(
  server: string,
  trustDomain: string,
): Promise<{ addresses: string[]; identity: string }> {
  const url = new URL('/api/v1/bootstrap', server.split(',')[0]);
  let body: { xdsAddress?: unknown; controlPlaneIdentity?: unknown };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    body = (await res.json()) as typeof body;
  } catch (err) {
    throw new ServerUnavailableError(`cannot read ${url}: ${(err as Error).message}`, err);
  }
  if (typeof body.xdsAddress !== 'string' || body.xdsAddress === '')
    throw new ServerUnavailableError(`${url} names no xDS address: does that control plane serve xDS?`);
  const identity =
    typeof body.controlPlaneIdentity === 'string'
      ? body.controlPlaneIdentity
      : formatSpiffeId({ trustDomain, ...CONTROL_PLANE_IDENTITY });
  return { addresses: body.xdsAddress.split(','), identity };
}

/** The relay's mTLS toward the control plane: the current workload certificate, the control plane's identity pinned. */
function relayTls(identity: WorkloadIdentity, controlPlane: string): () => GrpcCallTls {
  const checkServerIdentity = checkServerSpiffeId([controlPlane]);
  return () => {
    const c = identity.current();
    return { key: c.keyPem, cert: c.certChainPem, ca: c.trustBundlePem, checkServerIdentity };
  };
}

/** Keeps the certificate files current: written now, and again at every renewal. */
async function keepFiles(
  files: CertificateFiles,
  first: IdentitySnapshot,
  onRotate: OnRotate,
): Promise<void> {
  await files.write(first);
  onRotate((snapshot) => {
    files.write(snapshot).then(
      () => log.info({ notAfter: snapshot.notAfter.toISOString() }, 'certificate files rotated'),
      (err: unknown) => log.error({ err }, 'cannot write the rotated certificate files'),
    );
  });
}
type OnRotate = (listener: (snapshot: IdentitySnapshot) => void) => unknown;

/** Runs COMMAND with GRPC_XDS_BOOTSTRAP set, forwarding SIGINT/SIGTERM; resolves with its exit code. */
async function runApp(command: string[], bootstrapFile: string): Promise<number> {
  const child = await UnitChild.start({
    name: 'the app',
    command: command[0],
    args: command.slice(1),
    env: { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrapFile },
    stdio: 'inherit',
  });
  if (!(child instanceof UnitChild)) throw new UsageError(child.message);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.signal(signal));
  return exitCodeOf(await child.exited);
}

/** The xDS address the app's bootstrap names: the relay (started here), or `--xds-address` as given. */
async function xdsForApp(
  opts: ProxylessOptions,
  identity: WorkloadIdentity,
  snapshot: IdentitySnapshot,
): Promise<{ relay?: XdsRelay; xdsAddress: string }> {
  if (opts.xdsAddress !== undefined) return { xdsAddress: opts.xdsAddress };
  const trustDomain = parseSpiffeId(snapshot.spiffeId).trustDomain;
  const controlPlane = await controlPlaneXds(opts.server, trustDomain);
  const relay = await XdsRelay.start({
    upstreams: controlPlane.addresses,
    tls: relayTls(identity, controlPlane.identity),
  });
  return { relay, xdsAddress: relay.address };
}

/** The flags checked before anything starts. */
interface CheckedFlags {
  labels: Record<string, string>;
  refreshIntervalMs: number;
  tokenSource: TokenSource;
}

function checkFlags(opts: ProxylessOptions): CheckedFlags {
  checkIdentityFlags(opts);
  const refresh = parseDuration(opts.refreshInterval);
  if ('error' in refresh) throw new UsageError(`--refresh-interval: ${refresh.error}`);
  return { labels: labelsOf(opts.label), refreshIntervalMs: refresh.ms, tokenSource: tokenSource(opts) };
}

/** Writes the certificate files (kept current) and the bootstrap naming them; returns the bootstrap's path. */
async function writeAppFiles(
  dir: string,
  opts: ProxylessOptions & CheckedFlags,
  identity: WorkloadIdentity,
  snapshot: IdentitySnapshot,
  xdsAddress: string,
): Promise<string> {
  const files = new CertificateFiles(dir);
  await keepFiles(files, snapshot, (l) => identity.onRotate(l));
  const bootstrapFile = join(dir, 'bootstrap.json');
  const bootstrap = grpcBootstrap({
    xdsAddress,
    nodeId: opts.nodeId ?? `proxyless~${opts.namespace}~${opts.serviceAccount}~${hostname()}-${process.pid}`,
    namespace: opts.namespace,
    serviceAccount: opts.serviceAccount,
    labels: opts.labels,
    files: files.paths,
    refreshIntervalMs: opts.refreshIntervalMs,
  });
  await writeFile(bootstrapFile, `${JSON.stringify(bootstrap, null, 2)}\n`, { mode: 0o600 });
  return bootstrapFile;
}

async function run(command: string[], opts: ProxylessOptions): Promise<number> {
  const flags = { ...opts, ...checkFlags(opts) };
  const { identity, snapshot } = await startCheckedIdentity({
    server: opts.server,
    namespace: opts.namespace,
    serviceAccount: opts.serviceAccount,
    token: flags.tokenSource,
  });
  const dir = opts.dir ? resolve(opts.dir) : await mkdtemp(join(tmpdir(), 'weft-proxyless-'));
  let relay: XdsRelay | undefined;
  try {
    const xds = await xdsForApp(opts, identity, snapshot);
    relay = xds.relay;
    const bootstrapFile = await writeAppFiles(dir, flags, identity, snapshot, xds.xdsAddress);
    process.stderr.write(
      `weft proxyless ready: bootstrap ${bootstrapFile} identity ${snapshot.spiffeId} xds ${xds.xdsAddress}${relay ? ' (relay, mTLS to the control plane)' : ''}\n`,
    );
    if (command.length > 0) return await runApp(command, bootstrapFile);
    await new Promise<void>((done) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => done());
    });
    return 0;
  } finally {
    await relay?.close();
    identity.close();
    if (!opts.dir) await rm(dir, { recursive: true, force: true });
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function register(program: Command): void {
  program
    .command('proxyless')
    .usage('--service-account SA [flags] [-- COMMAND [ARGS...]]')
    .description(
      "the agent of a proxyless gRPC app (no sidecar): writes the app's gRPC xDS bootstrap (GRPC_XDS_BOOTSTRAP) " +
        'with a file_watcher certificate provider, and keeps the workload certificate for --namespace/--service-account ' +
        'in those files, renewed before expiry (gRFC A29 mTLS). With COMMAND, runs it with GRPC_XDS_BOOTSTRAP set and ' +
        'exits with its code; without, keeps the files current until SIGTERM. The control plane needs --xds-plaintext',
    )
    .argument('[command...]', 'the app to run (put it after --)')
    .requiredOption('--service-account <sa>', 'service account of the app (its SPIFFE identity)')
    .option('--namespace <ns>', 'namespace of the app', 'default')
    .option(
      '--label <k=v>',
      'workload label, for policies selecting the app as a server (repeatable)',
      collect,
      [],
    )
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .option(
      '--xds-address <host:port>',
      "the control plane's plaintext xDS address (default: asked from --server)",
    )
    .option(
      '--dir <dir>',
      'where to write bootstrap.json and current/*.pem (default: a temporary directory, removed at exit)',
    )
    .option('--node-id <id>', 'xDS node id (default: proxyless~NS~SA~HOST-PID)')
    .option('--refresh-interval <duration>', 'how often gRPC re-reads the certificate files', '10s')
    .option(
      '--token-file <file>',
      'bootstrap token for the identity (weft token create); without one, a token is minted, which the control plane allows from its own host only',
    )
    .option('--token <token>', 'the bootstrap token itself (tests and development; prefer --token-file)')
    .passThroughOptions()
    .action(async (command: string[], opts: ProxylessOptions) => {
      process.exit(await run(command, opts));
    });
}
