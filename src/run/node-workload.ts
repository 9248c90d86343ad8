// The sidecar of a `weft run --node` unit: a workload registered with a node agent, alive as long as its registration.
import type { ClientRequest, IncomingMessage } from 'node:http';
import { http } from '../proxy/common/node-http.ts';
import type { ChildExit } from './child.ts';

/** What the node agent says about itself (GET /v1/agent). */
export interface AgentInfo {
  /** The control-plane API URL its workloads use by default. */
  server: string;
  pid: number;
}

/** Why a workload could not be registered. */
export interface RegistrationFailure {
  message: string;
}

const AGENT_TIMEOUT_MS = 10_000;

function request(url: URL, method: string, body?: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, timeout: AGENT_TIMEOUT_MS }, resolve);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${AGENT_TIMEOUT_MS / 1000}s`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function text(res: IncomingMessage): Promise<string> {
  let body = '';
  res.setEncoding('utf8');
  for await (const chunk of res) body += chunk;
  return body;
}

/** Asks the node agent at `agent` who it is; rejects with a message saying how to start one. */
export async function agentInfo(agent: string): Promise<AgentInfo> {
  const url = new URL('/v1/agent', agent);
  try {
    const res = await request(url, 'GET');
    const body = await text(res);
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${body.trim().slice(0, 200)}`);
    return JSON.parse(body) as AgentInfo;
  } catch (err) {
    throw new Error(
      `cannot reach the node agent at ${agent} (${(err as Error).message}); start it on this host with weft node --server URL`,
    );
  }
}

/** A workload a node agent serves for this unit: stopping it (or this process ending) drains it there. */
export class NodeWorkload {
  readonly agent: string;
  /** The agent's pid (once it said it started the workload). */
  pid = 0;
  /** The agent's name for the workload. */
  id: string | undefined;
  exit: ChildExit | undefined;
  readonly exited: Promise<ChildExit>;
  private readonly req: ClientRequest;
  private resolveExit!: (exit: ChildExit) => void;

  private constructor(agent: string, req: ClientRequest) {
    this.agent = agent;
    this.req = req;
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  /**
   * Registers the workload (`args`: its weft proxy flags). Resolves once the agent accepted it;
   * `report` gets the agent's reason when it cannot start the workload later.
   */
  static start(
    agent: string,
    args: string[],
    report: (line: string) => void,
  ): Promise<NodeWorkload | RegistrationFailure> {
    return new Promise((resolve) => {
      const req = http.request(new URL('/v1/workloads', agent), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      const workload = new NodeWorkload(agent, req);
      req.on('error', (err) => {
        resolve({
          message: `cannot register the workload with the node agent at ${agent}: ${err.message}; is weft node running?`,
        });
        workload.ended({ code: 1, signal: null });
      });
      req.on('response', async (res) => {
        if (res.statusCode !== 200) {
          const body = await text(res).catch(() => '');
          let why = body.trim();
          try {
            const parsed = JSON.parse(body) as { error?: string; code?: string };
            if (parsed.error) why = `${parsed.error} [${parsed.code}]`;
          } catch {
            // not JSON: shown as it is
          }
          resolve({ message: `the node agent at ${agent} refused the workload: ${why}` });
          return;
        }
        resolve(workload);
        workload.follow(res, report);
      });
      req.end(JSON.stringify({ args }));
    });
  }

  /** Reads the agent's events until the registration ends. */
  private async follow(res: IncomingMessage, report: (line: string) => void): Promise<void> {
    let exit: ChildExit = { code: 1, signal: null };
    let buffered = '';
    res.setEncoding('utf8');
    try {
      for await (const chunk of res) {
        buffered += chunk;
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const event = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
          buffered = buffered.slice(nl + 1);
          if (event.event === 'started') {
            this.pid = Number(event.pid);
            this.id = String(event.id);
          } else if (event.event === 'failed') {
            report(
              `weft run: the node agent at ${this.agent} could not start the workload: ${event.message} [${event.code}]`,
            );
          } else if (event.event === 'stopped') exit = { code: 0, signal: null };
        }
      }
    } catch {
      // the connection broke: the agent is gone (exit stays code 1)
    }
    this.ended(exit);
  }

  private ended(exit: ChildExit): void {
    if (this.exit) return;
    this.exit = exit;
    this.resolveExit(exit);
  }

  /** Asks the agent to drain and stop the workload; after `timeoutMs` drops the registration. */
  async stop(_signal: NodeJS.Signals, timeoutMs: number): Promise<ChildExit> {
    if (this.exit) return this.exit;
    if (this.id !== undefined)
      request(new URL(`/v1/workloads/${encodeURIComponent(this.id)}`, this.agent), 'DELETE').catch(() =>
        this.kill(),
      );
    else this.kill();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timed-out'>((resolve) => {
      timer = setTimeout(() => resolve('timed-out'), timeoutMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first === 'timed-out') this.kill();
    return this.exited;
  }

  /** Drops the registration at once (the agent then drains the workload); synchronous. */
  kill(): void {
    if (this.exit) return;
    this.req.destroy();
    this.ended({ code: null, signal: 'SIGKILL' });
  }
}
