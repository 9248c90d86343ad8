// The stats port: admin's read-only endpoints on the host address, over mutual TLS, for the control plane only (its traffic view of proxies on other hosts).
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { PortInUseError } from '../../errors.ts';
import {
  CONTROL_PLANE_IDENTITY,
  formatSpiffeId,
  parseSpiffeId,
  peerSpiffeId,
} from '../../identity/spiffe.ts';
import type { WorkloadIdentity } from '../../identity/workload-identity.ts';
import type { AdminServer } from './admin-server.ts';

/** Where the stats port listens and whose certificate it serves with. */
export interface StatsListenerConfig {
  /** The host address other hosts reach this one on. */
  host: string;
  /** 0: a free port (announced to the control plane in the node metadata). */
  port: number;
  identity: WorkloadIdentity;
  /** This workload's SPIFFE ID: the control plane's ID is taken in the same trust domain. */
  spiffeId: string;
}

/** A bound stats port; `serve(admin)` starts answering (until then: 503). */
export interface StatsListener {
  port: number;
  serve(admin: AdminServer): void;
  close(): Promise<void>;
}

/**
 * Binds the stats port. A client must present a certificate of the mesh's CA for the control
 * plane's SPIFFE ID (the identity proxies pin for xDS): other workloads, and clients without a
 * certificate, are refused. The certificate follows the workload's rotations.
 */
export function startStatsListener(c: StatsListenerConfig): Promise<StatsListener> {
  const controlPlane = formatSpiffeId({
    trustDomain: parseSpiffeId(c.spiffeId).trustDomain,
    ...CONTROL_PLANE_IDENTITY,
  });
  let admin: AdminServer | undefined;
  const server = https.createServer(
    { ...c.identity.tlsOptions(), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = peerSpiffeId(req.socket as TLSSocket);
      if (peer !== controlPlane) {
        res.writeHead(403, { 'content-type': 'text/plain' });
        res.end(
          `the stats port answers the control plane (${controlPlane}) only, not ${peer ?? 'a client without a SPIFFE ID'}\n`,
        );
        return;
      }
      if (!admin) {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('starting\n');
        return;
      }
      admin.handleReadOnly(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${err instanceof Error ? err.message : String(err)}\n`);
      });
    },
  );
  const unsubscribe = c.identity.onRotate(() => server.setSecureContext(c.identity.tlsOptions()));
  return new Promise((resolve, reject) => {
    server.once('error', (err) => {
      unsubscribe();
      reject(new PortInUseError(`cannot listen on the stats port ${c.host}:${c.port}: ${err.message}`, err));
    });
    server.listen(c.port, c.host, () => {
      server.removeAllListeners('error');
      server.on('error', () => {});
      resolve({
        port: (server.address() as { port: number }).port,
        serve: (a) => {
          admin = a;
        },
        close: () =>
          new Promise((done) => {
            unsubscribe();
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
