// The control plane's client toward proxies' stats ports: its own certificate (the xDS identity), and each proxy must prove its workload's SPIFFE ID.
import type { SecureContextOptions } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import { checkServerSpiffeId, formatSpiffeId } from '../../identity/spiffe.ts';

/** Mutual TLS toward stats ports; one connection pool per proxy identity, rebuilt when the certificate rotates. */
export class StatsClientTls {
  readonly #current: () => SecureContextOptions;
  readonly #trustDomain: string;
  #cert: unknown;
  readonly #agents = new Map<string, Agent>();

  constructor(current: () => SecureContextOptions, trustDomain: string) {
    this.#current = current;
    this.#trustDomain = trustDomain;
  }

  /** Closes every connection pool (the control plane stops). */
  close(): void {
    for (const agent of this.#agents.values()) agent.destroy().catch(() => {});
    this.#agents.clear();
  }

  /** The dispatcher for a proxy of `namespace`/`serviceAccount`: it must present that workload's SPIFFE ID. */
  dispatcher(namespace: string, serviceAccount: string): Dispatcher {
    const context = this.#current();
    if (context.cert !== this.#cert) {
      for (const agent of this.#agents.values()) agent.close().catch(() => {});
      this.#agents.clear();
      this.#cert = context.cert;
    }
    const id = formatSpiffeId({ trustDomain: this.#trustDomain, namespace, serviceAccount });
    let agent = this.#agents.get(id);
    if (!agent) {
      agent = new Agent({
        connect: {
          key: context.key,
          cert: context.cert,
          ca: context.ca,
          minVersion: 'TLSv1.3',
          rejectUnauthorized: true,
          checkServerIdentity: checkServerSpiffeId([id]),
        },
      });
      this.#agents.set(id, agent);
    }
    return agent;
  }
}
