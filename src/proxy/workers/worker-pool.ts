// Multi-core mode: N worker processes share the listener ports (SO_REUSEPORT); the primary feeds them xDS.
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../observe/log.ts';
import type { LocalWorkload } from '../../observe/proxy-telemetry.ts';
import { TYPE_URL } from '../../xds/type-urls.ts';
import { mergePrometheus } from '../admin/prometheus.ts';
import type { ProxyLimits } from '../proxy.ts';
import type { TlsSecret } from '../tls/secrets.ts';
import type { XdsResource } from '../xds-client/ads-client.ts';
import type { FromWorker, ToWorker, WorkerStart } from './messages.ts';

const WORKER_MAIN = fileURLToPath(new URL('./worker-main.ts', import.meta.url));

/**
 * The worker's script: when this process runs from the proxy's bundle, the worker's bundle built
 * with it (bin/bundle.js: ~17 MB less private memory per worker than its .ts source), else the source.
 */
function workerScript(): string {
  const main = process.argv[1] ?? '';
  const bundled = join(dirname(main), 'proxy-worker.cjs');
  return basename(main) === 'proxy.cjs' && existsSync(bundled) ? bundled : WORKER_MAIN;
}

/** Settings of the worker pool. */
export interface WorkerPoolConfig {
  /** Number of worker processes. */
  workers: number;
  /** Ports every worker binds before configuration arrives. */
  prebind: { host: string; port: number }[];
  /** The workload the proxy serves (Istio's metric labels). */
  workload?: LocalWorkload;
  /** Connection and heap limits every worker applies. */
  limits?: ProxyLimits;
}

interface Pending {
  resolve(result: string | undefined): void;
  reject(err: Error): void;
}

/** The order a restarted worker is brought up to date in (clusters before the listeners using them). */
const REPLAY_ORDER = [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route];

export class WorkerPool {
  private readonly config: WorkerPoolConfig;
  private readonly log: Logger;
  private readonly workers: (ChildProcess | undefined)[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stopping = false;
  /** What the workers run now, per type: full sets for LDS/CDS, by name for RDS/EDS. */
  private readonly current = new Map<string, { version: string; resources: Map<string, XdsResource> }>();
  /** The TLS secrets the workers hold (replayed to a restarted worker before its configuration). */
  private secrets: [string, TlsSecret][] = [];

  constructor(config: WorkerPoolConfig, log: Logger) {
    this.config = config;
    this.log = log;
  }

  /** Starts every worker; resolves when all have bound their ports. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.config.workers }, (_, i) => this.spawn(i)));
  }

  private spawn(index: number): Promise<void> {
    const start: WorkerStart = {
      prebind: this.config.prebind,
      workload: this.config.workload,
      limits: this.config.limits,
    };
    const child = fork(workerScript(), [JSON.stringify(start)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.workers[index] = child;
    child.on('message', (msg: FromWorker) => {
      if (msg.type !== 'reply') return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.error));
    });
    return new Promise((resolve, reject) => {
      const onListening = (msg: FromWorker) => {
        if (msg.type !== 'listening') return;
        child.off('message', onListening);
        resolve();
      };
      child.on('message', onListening);
      child.once('exit', (code, signal) => {
        this.workers[index] = undefined;
        reject(new Error(`proxy worker ${index} exited (${code ?? signal}) before it was listening`));
        if (this.stopping) return;
        this.log.error({ worker: index, code, signal }, 'proxy worker exited; starting a new one');
        setTimeout(() => this.respawn(index), 200);
      });
    });
  }

  /** A worker died: start another and bring it up to date with the current configuration. */
  private async respawn(index: number): Promise<void> {
    if (this.stopping) return;
    try {
      await this.spawn(index);
      if (this.secrets.length > 0) await this.call(index, { type: 'secrets', id: 0, secrets: this.secrets });
      for (const typeUrl of REPLAY_ORDER) {
        const c = this.current.get(typeUrl);
        if (c)
          await this.call(index, {
            type: 'apply',
            id: 0,
            typeUrl,
            resources: [...c.resources.values()],
            version: c.version,
            complete: true,
          });
      }
    } catch (err) {
      this.log.error({ err, worker: index }, 'restarting a proxy worker failed');
    }
  }

  private call(index: number, msg: ToWorker & { id: number }): Promise<string | undefined> {
    const child = this.workers[index];
    if (!child?.connected) return Promise.reject(new Error(`proxy worker ${index} is not running`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      child.send({ ...msg, id });
    });
  }

  private all(msg: ToWorker & { id: number }): Promise<(string | undefined)[]> {
    return Promise.all(this.workers.map((_, i) => this.call(i, msg)));
  }

  /** Applies an update in every worker; rejects with the first worker's reason when one refuses it. */
  async apply(typeUrl: string, resources: XdsResource[], version: string, complete: boolean): Promise<void> {
    // Over the IPC channel as JSON: the decoded bodies only (an encoded copy would not survive it).
    const decoded = resources.map((r) => ({ name: r.name, body: r.body }));
    await this.all({ type: 'apply', id: 0, typeUrl, resources: decoded, version, complete });
    let c = this.current.get(typeUrl);
    if (!c || complete) {
      c = { version, resources: new Map() };
      this.current.set(typeUrl, c);
    }
    c.version = version;
    for (const r of decoded) c.resources.set(r.name, r);
  }

  /** Gives every worker the TLS secrets (SDS name → certificate or bundle). */
  async setSecrets(secrets: [string, TlsSecret][]): Promise<void> {
    this.secrets = secrets;
    await this.all({ type: 'secrets', id: 0, secrets });
  }

  /** Every worker's counters, added up. */
  async prometheus(): Promise<string> {
    return mergePrometheus((await this.all({ type: 'stats', id: 0 })).map((t) => t ?? ''));
  }

  /** The first worker's view of the clusters (health is the same in every worker; counters are per worker). */
  async clusters(format: 'json' | 'text'): Promise<string> {
    const index = this.workers.findIndex((w) => w?.connected);
    if (index < 0) return '';
    return (await this.call(index, { type: 'clusters', id: 0, format })) ?? '';
  }

  /** Drains every worker and resolves when all have exited. */
  async shutdown(drainTimeoutMs: number): Promise<void> {
    this.stopping = true;
    const exits = this.workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (!w || w.exitCode !== null || w.signalCode !== null) return resolve();
          const timer = setTimeout(() => w.kill('SIGKILL'), drainTimeoutMs + 2000);
          w.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          if (w.connected) w.send({ type: 'shutdown', drainTimeoutMs } satisfies ToWorker);
          else w.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
    for (const p of this.pending.values()) p.reject(new Error('proxy workers stopped'));
    this.pending.clear();
  }
}
