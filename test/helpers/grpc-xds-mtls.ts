// The proxyless mTLS scenario of the e2e tests (gRFC A29): a STRICT greeter mesh whose server admits one SPIFFE identity, and apps run under `weft proxyless`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WEFT_BIN } from './cli.ts';
import { type GreeterClient, HOST } from './grpc-xds-scenario.ts';

/** The greeter served by proxyless servers on `ports` running as service account `greeter`, STRICT mTLS, callable by `client` only. */
export function strictMesh(...ports: number[]): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: greeter}
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 50051, name: grpc, protocol: GRPC}]
  workloadSelector: {labels: {app: greeter}}
${ports.map(workloadEntry).join('')}---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec:
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: greeter-callers, namespace: default}
spec:
  selector: {matchLabels: {app: greeter}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: [cluster.local/ns/default/sa/client]}
`;
}

/** `node bin/weft.js proxyless --service-account SA -- APP...`: the app with its agent. */
export function withAgent(
  api: string,
  serviceAccount: string,
  app: string[],
  extra: string[] = [],
): string[] {
  return [
    WEFT_BIN,
    'proxyless',
    '--server',
    api,
    '--service-account',
    serviceAccount,
    ...extra,
    '--',
    ...app,
  ];
}

function workloadEntry(port: number, i: number): string {
  return `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: greeter-${i + 1}}
spec:
  address: 127.0.0.1
  labels: {app: greeter}
  ports: {grpc: ${port}}
  serviceAccount: greeter
`;
}

const JS_SERVER = fileURLToPath(new URL('./grpc-xds-server-child.ts', import.meta.url));
const PY_SERVER = fileURLToPath(new URL('./grpc-xds-server.py', import.meta.url));
const JS_CLIENT = fileURLToPath(new URL('./grpc-xds-client-child.ts', import.meta.url));
const PY_CLIENT = fileURLToPath(new URL('./grpc-xds-client.py', import.meta.url));
/** Debian's interpreter: python3-grpcio installs into its dist-packages, not into other Pythons on PATH. */
export const PYTHON = '/usr/bin/python3';

/** The server apps: grpc-js-xds (replies `xds-server`) and C-core (replies `py-server`). */
export const SERVER_APPS = {
  js: (address: string) => [process.execPath, JS_SERVER, address],
  py: (address: string) => [PYTHON, PY_SERVER, address],
};

/** The client apps, both driven by GreeterClient. */
export const CLIENT_APPS = {
  js: (target: string) => [process.execPath, JS_CLIENT, target],
  py: (target: string) => [PYTHON, PY_CLIENT, target],
};

/** What gRPC apps need in their environment here: quiet logs, RBAC on in grpc-js-xds 1.14, C-core's ADS polled often. */
export const GRPC_ENV: NodeJS.ProcessEnv = {
  WEFT_LOG_LEVEL: 'warn',
  GRPC_VERBOSITY: 'ERROR',
  GRPC_XDS_EXPERIMENTAL_RBAC: 'true',
  GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS: '100',
};

/**
 * Runs batches of `calls` until every call is answered as `expected` says (an xDS server serves
 * once its listener arrives, shortly after it starts), for at most 30 s; returns the last batch.
 */
export async function untilAnswered(
  client: GreeterClient,
  calls: number,
  expected: (counts: Record<string, number>) => boolean,
): Promise<Record<string, number>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const counts = await client.run(calls);
    if (expected(counts)) return counts;
    if (Date.now() > deadline) throw new Error(`calls still answered ${JSON.stringify(counts)} after 30 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The grpcio version Debian's Python has; fails the test with what to install when it has none. */
export function grpcioVersion(): string {
  const probe = spawnSync(PYTHON, ['-c', 'import grpc; print(grpc.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0)
    assert.fail(
      `${PYTHON} cannot import grpc: install Debian's python3-grpcio (.ci/run does)\n${probe.stderr ?? probe.error}`,
    );
  return probe.stdout.trim();
}

/** The serial, expiry and SANs of the certificate `weft proxyless --dir DIR` keeps in DIR. */
export async function currentCertificate(
  dir: string,
): Promise<{ serial: string; notAfter: number; san: string }> {
  const cert = new X509Certificate(await readFile(join(dir, 'current', 'cert-chain.pem')));
  return { serial: cert.serialNumber, notAfter: Date.parse(cert.validTo), san: cert.subjectAltName ?? '' };
}

/**
 * Waits (at most 60 s) until the agent has replaced the certificate `first` in `dir` and `first`
 * has expired: whatever handshakes after that must use a rotated certificate. Returns the new one.
 */
export async function afterRotation(
  dir: string,
  first: { serial: string; notAfter: number },
): Promise<{ serial: string; notAfter: number; san: string }> {
  const deadline = Date.now() + 60_000;
  let now = await currentCertificate(dir);
  while (now.serial === first.serial || Date.now() <= first.notAfter + 1000) {
    assert.ok(Date.now() < deadline, `the certificate in ${dir} was not rotated in 60 s (${now.serial})`);
    await new Promise((r) => setTimeout(r, 500));
    now = await currentCertificate(dir);
  }
  return now;
}
