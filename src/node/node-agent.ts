// The node agent: one process serving the sidecars of many workloads on a host, each with its own identity, ports and config.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WeftError } from '../errors.ts';
import { logger } from '../observe/log.ts';
import { http } from '../proxy/common/node-http.ts';
import { startIdleRelease } from '../proxy/overload/idle-release.ts';
import { Sidecar } from '../proxy/sidecar.ts';
import { workloadConfig } from './workload-args.ts';

/** Settings of `weft node`. */
export interface NodeAgentConfig {
  /** Address of the agent's API (loopback: whoever reaches it can add workloads). */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Control-plane API URL every workload uses unless its flags name another. */
  server: string;
}

/** One workload the agent serves: a sidecar core sharing the agent's process. */
interface Workload {
  id: string;
  sidecar?: Sidecar;
  service: string;
  namespace: string;
  /** The registration's response: events are written to it; it ends when the workload stops. */
  events: ServerResponse;
  stopping?: Promise<string>;
}

/** Largest registration body (a workload's flags). */
const MAX_BODY_BYTES = 64 * 1024;

const log = logger({ component: 'node' });

/** What the API answers for a refused request. */
function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify({ error: message, code })}\n`);
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY_BYTES) resolve(undefined);
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

export class NodeAgent {
  readonly config: NodeAgentConfig;
  private readonly workloads = new Map<string, Workload>();
  private server: Server | undefined;
  private serial = 0;

  constructor(config: NodeAgentConfig) {
    this.config = config;
  }

  /** Binds the API; resolves to its port. */
  async listen(): Promise<number> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        log.error({ err }, 'node agent request failed');
        if (!res.headersSent) sendError(res, 500, 'WEFT_INTERNAL', String(err));
        else res.end();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port, this.config.host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://agent').pathname;
    if (path === '/v1/agent' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        `${JSON.stringify({ server: this.config.server, pid: process.pid, workloads: this.workloads.size })}\n`,
      );
      return;
    }
    if (path === '/v1/workloads' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ workloads: [...this.workloads.values()].map(describe) })}\n`);
      return;
    }
    if (path === '/v1/workloads' && req.method === 'POST') return this.register(req, res);
    const id = /^\/v1\/workloads\/([^/]+)$/.exec(path)?.[1];
    if (id !== undefined && req.method === 'DELETE') {
      const workload = this.workloads.get(id);
      if (!workload) return sendError(res, 404, 'WEFT_NOT_FOUND', `no workload ${id} on this node agent`);
      const outcome = await this.stop(workload);
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify({ outcome })}\n`);
      return;
    }
    sendError(res, 404, 'WEFT_NOT_FOUND', `no ${req.method} ${path} on the node agent (see docs/node.md)`);
  }

  /**
   * POST /v1/workloads {"args": [weft proxy flags]}: starts the workload's sidecar and streams
   * its events (one JSON object per line: started, ready, stopped, failed). The workload lives as
   * long as this response: when the client goes away, its sidecar drains and stops.
   */
  private async register(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (body === undefined)
      return sendError(
        res,
        413,
        'WEFT_REQUEST_TOO_LARGE',
        `a registration is at most ${MAX_BODY_BYTES} bytes`,
      );
    let config: ReturnType<typeof workloadConfig>;
    try {
      const parsed = JSON.parse(body) as { args?: unknown };
      config = workloadConfig(parsed.args as string[], { server: this.config.server });
    } catch (err) {
      const code = err instanceof WeftError ? err.code : 'WEFT_USAGE';
      return sendError(res, 400, code, err instanceof Error ? err.message : String(err));
    }
    const workload: Workload = {
      id: `${config.service}.${config.namespace}-${++this.serial}`,
      service: config.service,
      namespace: config.namespace,
      events: res,
    };
    this.workloads.set(workload.id, workload);
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
    res.on('close', () => {
      if (!res.writableFinished) this.stop(workload).catch(() => {});
    });
    try {
      workload.sidecar = await Sidecar.start(config);
    } catch (err) {
      this.workloads.delete(workload.id);
      const code = err instanceof WeftError ? err.code : 'WEFT_INTERNAL';
      return this.end(workload, {
        event: 'failed',
        code,
        message: err instanceof Error ? err.message : String(err),
      });
    }
    if (workload.stopping) {
      // Stopped (client gone, DELETE, agent shutdown) while it was starting: stop it now.
      await workload.sidecar.shutdown();
      return;
    }
    const sidecar = workload.sidecar;
    log.info({ workload: workload.id, ports: sidecar.ports }, 'workload started');
    res.write(`${JSON.stringify({ event: 'started', ...describe(workload), pid: process.pid })}\n`);
    await sidecar.whenReady();
    // Its start-up garbage (decoded and compiled config) goes at the next idle look.
    startIdleRelease();
    if (!workload.stopping) res.write(`${JSON.stringify({ event: 'ready', id: workload.id })}\n`);
  }

  /** Drains and stops one workload (once); its event stream ends with `stopped`. */
  private stop(workload: Workload): Promise<string> {
    workload.stopping ??= (async () => {
      const outcome = workload.sidecar ? await workload.sidecar.shutdown() : 'drained';
      this.workloads.delete(workload.id);
      log.info({ workload: workload.id, outcome }, 'workload stopped');
      this.end(workload, { event: 'stopped', id: workload.id, outcome });
      return outcome;
    })();
    return workload.stopping;
  }

  private end(workload: Workload, event: Record<string, unknown>): void {
    if (!workload.events.destroyed) workload.events.end(`${JSON.stringify(event)}\n`);
  }

  /** Stops accepting registrations, drains every workload, closes the API. */
  async shutdown(): Promise<void> {
    this.server?.close();
    await Promise.all([...this.workloads.values()].map((w) => this.stop(w)));
    this.server?.closeAllConnections();
  }
}

/** How the API shows a workload. */
function describe(w: Workload) {
  return {
    id: w.id,
    service: w.service,
    namespace: w.namespace,
    spiffeId: w.sidecar?.spiffeId,
    ports: w.sidecar?.ports,
    ready: w.sidecar?.core.ready() ?? false,
  };
}
