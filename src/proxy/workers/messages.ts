// Messages between a multi-core proxy's primary (xDS, admin) and its workers (traffic), over IPC.

import type { LocalWorkload } from '../../observe/proxy-telemetry.ts';
import type { ProxyLimits } from '../proxy.ts';
import type { TlsSecret } from '../tls/secrets.ts';
import type { XdsResource } from '../xds-client/ads-client.ts';

/** What a worker is started with (argv[2], JSON). */
export interface WorkerStart {
  /** Listener ports the worker binds with SO_REUSEPORT before any configuration arrives. */
  prebind: { host: string; port: number }[];
  /** The workload the proxy serves (Istio's metric labels). */
  workload?: LocalWorkload;
  /** Connection and heap limits the worker applies (`--max-connections`, `--max-heap-mb`). */
  limits?: ProxyLimits;
}

/** Primary → worker. */
export type ToWorker =
  | {
      type: 'apply';
      id: number;
      typeUrl: string;
      resources: XdsResource[];
      version: string;
      complete: boolean;
    }
  /** TLS secrets by SDS name (the workload certificate and bundle), at start and after each rotation. */
  | { type: 'secrets'; id: number; secrets: [string, TlsSecret][] }
  | { type: 'stats'; id: number }
  | { type: 'clusters'; id: number; format: 'json' | 'text' }
  | { type: 'shutdown'; drainTimeoutMs: number };

/** Worker → primary. */
export type FromWorker =
  | { type: 'listening' }
  | { type: 'reply'; id: number; ok: true; result?: string }
  | { type: 'reply'; id: number; ok: false; error: string };
