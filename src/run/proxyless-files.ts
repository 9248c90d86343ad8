// `weft proxyless`'s files: the workload certificate where gRPC's file_watcher provider reads it (swapped atomically), and the gRPC xDS bootstrap.
//
// gRPC re-reads the three files every `refresh_interval`. Renaming each file in turn would let
// it read a new certificate with the old key; so each certificate goes into a directory of its
// own and one symlink, `current`, is renamed over to point at it: the three change at once.
import { mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IdentitySnapshot } from '../identity/workload-identity.ts';

/** The certificate provider instance weft's generated TLS contexts name (generate/grpc-tls.ts). */
export const PROVIDER_INSTANCE = 'default';
/** The listener name template of xDS-enabled gRPC servers (generate/grpc-server.ts, Istio's). */
const SERVER_TEMPLATE = 'grpc/server?xds.resource.listening_address=%s';

/** Paths of the three files, through the `current` link. */
export interface CertificatePaths {
  certificate: string;
  key: string;
  ca: string;
}

/** Writes each new workload certificate into `dir`, replacing the previous one atomically. */
export class CertificateFiles {
  readonly dir: string;
  readonly paths: CertificatePaths;
  #generation = 0;

  constructor(dir: string) {
    this.dir = dir;
    const current = join(dir, 'current');
    this.paths = {
      certificate: join(current, 'cert-chain.pem'),
      key: join(current, 'key.pem'),
      ca: join(current, 'root-cert.pem'),
    };
  }

  /** Writes `snapshot` as a new generation (creating `dir`), points `current` at it, removes all but the last two. */
  async write(snapshot: IdentitySnapshot): Promise<void> {
    const name = `.gen-${Date.now()}-${++this.#generation}`;
    const gen = join(this.dir, name);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await mkdir(gen, { mode: 0o700 });
    await writeFile(join(gen, 'cert-chain.pem'), snapshot.certChainPem, { mode: 0o600 });
    await writeFile(join(gen, 'key.pem'), snapshot.keyPem, { mode: 0o600 });
    await writeFile(join(gen, 'root-cert.pem'), snapshot.trustBundlePem, { mode: 0o600 });
    const link = join(this.dir, '.current.tmp');
    await rm(link, { force: true });
    await symlink(name, link);
    await rename(link, join(this.dir, 'current'));
    // A reader may still be inside the previous generation: keep it until the next rotation.
    const old = (await readdir(this.dir)).filter((f) => f.startsWith('.gen-')).sort(byGeneration);
    for (const f of old.slice(0, -2)) await rm(join(this.dir, f), { recursive: true, force: true });
  }
}

function byGeneration(a: string, b: string): number {
  const [, ta, na] = a.split('-').map(Number);
  const [, tb, nb] = b.split('-').map(Number);
  return ta - tb || na - nb;
}

/** What a proxyless app's bootstrap says about it and its control plane. */
export interface BootstrapSpec {
  /** The control plane's plaintext, read-only xDS address (`--xds-plaintext`). */
  xdsAddress: string;
  nodeId: string;
  namespace: string;
  serviceAccount: string;
  /** The workload's labels: which AuthorizationPolicies and PeerAuthentications select it as a server. */
  labels: Record<string, string>;
  files: CertificatePaths;
  /** How often gRPC re-reads the certificate files (ms). */
  refreshIntervalMs: number;
}

/** The gRPC xDS bootstrap (GRPC_XDS_BOOTSTRAP) of a proxyless app, with its certificate provider (gRFC A29). */
export function grpcBootstrap(spec: BootstrapSpec): object {
  return {
    xds_servers: [
      { server_uri: spec.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] },
    ],
    node: {
      id: spec.nodeId,
      locality: {},
      metadata: { NAMESPACE: spec.namespace, SERVICE_ACCOUNT: spec.serviceAccount, LABELS: spec.labels },
    },
    certificate_providers: {
      [PROVIDER_INSTANCE]: {
        plugin_name: 'file_watcher',
        config: {
          certificate_file: spec.files.certificate,
          private_key_file: spec.files.key,
          ca_certificate_file: spec.files.ca,
          refresh_interval: `${Math.max(1, Math.round(spec.refreshIntervalMs / 1000))}s`,
        },
      },
    },
    server_listener_resource_name_template: SERVER_TEMPLATE,
  };
}
