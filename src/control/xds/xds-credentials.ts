// The xDS server's mTLS credentials: a certificate for the control plane's SPIFFE ID from its own CA, renewed at half life.

import type { SecureContextOptions } from 'node:tls';
import { CONTROL_PLANE_IDENTITY } from '../../identity/spiffe.ts';
import { generateWorkloadKey } from '../../identity/workload-key.ts';
import { logger } from '../../observe/log.ts';
import type { CertificateAuthority } from '../ca/certificate-authority.ts';
import type { ServerTlsSource } from './grpc-server.ts';

/**
 * The xDS server's key, chain and trust bundle, replaceable while serving: every TLS listener
 * bound with them takes the new context for new connections. Clients must present a
 * certificate that chains to the mesh trust bundle.
 */
export class RotatingServerCredentials implements ServerTlsSource {
  #context: SecureContextOptions;
  readonly #listeners: ((context: SecureContextOptions) => void)[] = [];

  constructor(context: SecureContextOptions) {
    this.#context = context;
  }

  update(context: SecureContextOptions): void {
    this.#context = context;
    for (const listener of this.#listeners) listener(context);
  }

  /** The key, chain and trust bundle in use (the control plane's client certificate toward proxies' stats ports too). */
  current(): SecureContextOptions {
    return this.#context;
  }

  onUpdate(listener: (context: SecureContextOptions) => void): void {
    this.#listeners.push(listener);
  }
}

/** The control plane's xDS identity: credentials to bind with, its SPIFFE ID, and a stop for the renewals. */
export interface XdsServerIdentity {
  credentials: RotatingServerCredentials;
  spiffeId: string;
  stop(): void;
}

async function issue(
  ca: CertificateAuthority,
): Promise<{ context: SecureContextOptions; spiffeId: string; ttlMs: number }> {
  const key = await generateWorkloadKey();
  const issued = await ca.sign(key.csrPem, CONTROL_PLANE_IDENTITY);
  return {
    context: { key: key.keyPem, cert: issued.certificateChainPem, ca: ca.trustBundle() },
    spiffeId: issued.spiffeId,
    ttlMs: issued.notAfter.getTime() - Date.now(),
  };
}

/** Issues the control plane's certificate and renews it at half its lifetime (a new key each time). */
export async function startXdsServerIdentity(ca: CertificateAuthority): Promise<XdsServerIdentity> {
  const log = logger({ component: 'xds' });
  const first = await issue(ca);
  const credentials = new RotatingServerCredentials(first.context);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (ttlMs: number, retry = false) => {
    if (stopped) return;
    const delay = retry ? 30_000 : Math.max(1000, Math.min(ttlMs / 2, 2 ** 31 - 1));
    timer = setTimeout(async () => {
      try {
        const next = await issue(ca);
        credentials.update(next.context);
        log.info({ spiffeId: next.spiffeId }, 'xDS server certificate renewed');
        schedule(next.ttlMs);
      } catch (err) {
        log.error({ err }, 'xDS server certificate renewal failed; retrying in 30 s');
        schedule(0, true);
      }
    }, delay);
    timer.unref();
  };
  schedule(first.ttlMs);
  return {
    credentials,
    spiffeId: first.spiffeId,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
