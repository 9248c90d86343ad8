// Reference mesh pairs for opaque TCP: two HAProxy processes, or two minimal Node.js relays, carrying plaintext in over mTLS (TLS 1.3) to a backend.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCertificates, makeClientCertificate } from '../../test/helpers/openssl-certs.ts';
import type { BenchContext } from './context.ts';
import { REPO } from './context.ts';
import type { ProxyProcess } from './paths.ts';
import { freePort } from './ports.ts';
import { type Child, startChild } from './processes.ts';

/** A running pair: plaintext in on `port`, out to the backend; the client side first in `proxies`. */
export interface RefPair {
  port: number;
  /** The server side's TLS port (the hop between the two). */
  hopPort: number;
  proxies: ProxyProcess[];
  stop(): Promise<void>;
}

/** PEM files of the pair: the CA both sides trust, and each side's certificate and key (and both in one file, for HAProxy). */
export interface MeshCerts {
  ca: string;
  server: { cert: string; key: string; full: string };
  client: { cert: string; key: string; full: string };
}

/** A CA, the server side's certificate (server.mesh) and the client side's (client.mesh), ECDSA P-256 as weft's, made with openssl. */
export function makeCerts(ctx: BenchContext): MeshCerts {
  const dir = join(ctx.tmp, 'tcp-ref-certs');
  mkdirSync(dir, { recursive: true });
  const server = makeCertificates(dir, 'mesh', ['server.mesh']);
  const client = makeClientCertificate(dir, 'mesh', 'client.mesh');
  const full = (name: string, files: { cert: string; key: string }) => {
    const file = join(dir, `${name}-full.pem`);
    writeFileSync(file, `${readFileSync(files.cert)}${readFileSync(files.key)}`);
    return { ...files, full: file };
  };
  return { ca: server.ca, server: full('server', server), client: full('client', client) };
}

/** TLS 1.3 suites in weft's order (AES-128-GCM first, as Envoy's BoringSSL), so every pair encrypts alike. */
export const MESH_SUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

function haproxyConfig(name: string, frontend: string, backend: string): string {
  return `# written by bench/lib/tcp-ref-mesh.ts (${name})
global
  nbthread 1
  maxconn 1024
  ssl-default-bind-ciphersuites ${MESH_SUITES}
  ssl-default-server-ciphersuites ${MESH_SUITES}
  # 64 KiB buffers (default 16 KiB), as weft's bulk tunnels: the pair used 1.6-1.7 CPU s/GB instead of 1.8 (two loaded runs)
  tune.bufsize 65536

defaults
  mode tcp
  timeout connect 5s
  timeout client 300s
  timeout server 300s

frontend in
  ${frontend}
  default_backend out

backend out
  ${backend}
`;
}

async function startHaproxy(ctx: BenchContext, name: string, port: number, config: string): Promise<Child> {
  const file = join(ctx.tmp, `${name}.cfg`);
  writeFileSync(file, config);
  return startChild({ name, command: ctx.tools.haproxy!, args: ['-f', file, '-db'], readyPort: port });
}

async function pair(start: (inPort: number, hopPort: number) => Promise<[Child, Child]>): Promise<RefPair> {
  const inPort = await freePort();
  const hopPort = await freePort();
  const [client, server] = await start(inPort, hopPort);
  return {
    port: inPort,
    hopPort,
    proxies: [
      { role: 'client side', child: client },
      { role: 'server side', child: server },
    ],
    async stop() {
      await client.stop();
      await server.stop();
    },
  };
}

/** Two HAProxy processes (one thread each, 64 KiB buffers): TCP mode, mTLS (TLS 1.3, certificates verified both ways) between them. */
export function startHaproxyPair(ctx: BenchContext, certs: MeshCerts, backendPort: number): Promise<RefPair> {
  return pair(async (inPort, hopPort) => {
    const server = await startHaproxy(
      ctx,
      'haproxy-server-side',
      hopPort,
      haproxyConfig(
        'server side',
        `bind 127.0.0.1:${hopPort} ssl crt ${certs.server.full} ca-file ${certs.ca} verify required ssl-min-ver TLSv1.3`,
        `server app 127.0.0.1:${backendPort}`,
      ),
    );
    try {
      const client = await startHaproxy(
        ctx,
        'haproxy-client-side',
        inPort,
        haproxyConfig(
          'client side',
          `bind 127.0.0.1:${inPort}`,
          `server peer 127.0.0.1:${hopPort} ssl crt ${certs.client.full} ca-file ${certs.ca} verify required verifyhost server.mesh sni str(server.mesh) ssl-min-ver TLSv1.3`,
        ),
      );
      return [client, server];
    } catch (err) {
      await server.stop();
      throw err;
    }
  });
}

function startNodeRelay(
  ctx: BenchContext,
  side: 'client' | 'server',
  port: number,
  target: number,
  certs: MeshCerts,
) {
  return startChild({
    name: `node-relay-${side}`,
    command: ctx.node,
    args: [
      join(REPO, 'bench', 'lib', 'tcp-node-relay.ts'),
      side,
      String(port),
      String(target),
      MESH_SUITES,
      certs.ca,
      certs[side].cert,
      certs[side].key,
    ],
    readyLine: /relay ready/,
  });
}

/** Two minimal Node.js relays (node:net, node:tls, pipe()): the floor of a Node.js mesh hop without weft's code. */
export function startNodeRelayPair(
  ctx: BenchContext,
  certs: MeshCerts,
  backendPort: number,
): Promise<RefPair> {
  return pair(async (inPort, hopPort) => {
    const server = await startNodeRelay(ctx, 'server', hopPort, backendPort, certs);
    try {
      return [await startNodeRelay(ctx, 'client', inPort, hopPort, certs), server];
    } catch (err) {
      await server.stop();
      throw err;
    }
  });
}
