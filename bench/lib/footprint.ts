// What one more workload costs a host: idle sidecars, node-agent workloads, and a client sidecar after a gRPC burst.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchContext, REPO } from './context.ts';
import { probeUnary, UNARY_PATH, unaryRequestFrame } from './echo.ts';
import { runH2load } from './h2load.ts';
import { startMesh } from './paths.ts';
import { freePort } from './ports.ts';
import { type Child, startChild } from './processes.ts';
import { type MemoryBreakdown, memoryBreakdown, ResourceSampler } from './procfs.ts';
import { check, targetLines } from './targets.ts';
import { type ControlPlane, WEFT_BIN, waitUntil } from './weft.ts';

const QUIET = { WEFT_LOG_LEVEL: 'warn' };
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

/** A node agent's memory with one workload, and with `extra` more, in a mesh of `services` services. */
export interface NodeModeFigures {
  one: MemoryBreakdown;
  more: MemoryBreakdown;
  extra: number;
  services: number;
}

/** A `weft node` agent on the run's control plane. */
function startAgent(ctx: BenchContext, cp: ControlPlane): Promise<Child> {
  return startChild({
    name: 'weft node',
    command: ctx.node,
    args: [WEFT_BIN, 'node', '--listen', '127.0.0.1:0', '--server', cp.apiUrl],
    env: QUIET,
    readyLine: /weft node ready: api (http:\/\/\S+)/,
  });
}

/** Registers one idle workload of `service` with the agent at `api`; resolves once it is ready. */
async function registerWorkload(api: string, service: string, abort: AbortController): Promise<void> {
  const args = ['--service', service, '--app-port', String(await freePort())];
  args.push('--inbound-port', '0', '--outbound-port', '0', '--admin-port', '0', '--drain-timeout', '100ms');
  const res = await fetch(new URL('/v1/workloads', api), {
    method: 'POST',
    body: JSON.stringify({ args }),
    signal: abort.signal,
  });
  if (res.status !== 200 || !res.body) throw new Error(`weft node refused ${service}: ${await res.text()}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let seen = '';
  while (!seen.includes('"event":"ready"')) {
    const { value, done } = await reader.read();
    if (done || seen.includes('"event":"failed"'))
      throw new Error(`workload ${service} did not start: ${seen}`);
    seen += value;
  }
}

/**
 * One `weft node` agent with 1 then 1 + `extra` idle workloads registered (each a real sidecar
 * core with its identity). The mesh stays the same size meanwhile: a second agent first registers
 * one workload of each of `services` services, and the measured workloads are more instances of
 * them, in turn (else each new service would also grow every other workload's config, and the
 * figure would depend on how many were added). Many workloads, because V8's young generation
 * alone may be ±3 MB bigger at one reading than at the other.
 */
export async function nodeModeFootprint(
  ctx: BenchContext,
  cp: ControlPlane,
  extra: number,
  services: number,
): Promise<NodeModeFigures> {
  const registrations: AbortController[] = [];
  const register = (api: string, service: string) => {
    const abort = new AbortController();
    registrations.push(abort);
    return registerWorkload(api, service, abort);
  };
  const mesh = await startAgent(ctx, cp);
  try {
    for (let i = 0; i < services; i++) await register(mesh.readyMatch![1], `node-bench-${i}`);
    const agent = await startAgent(ctx, cp);
    try {
      const api = agent.readyMatch![1];
      await register(api, 'node-bench-0');
      await sleep(ctx.durations.idleSettleS);
      const one = memoryBreakdown([agent.pid]);
      for (let i = 1; i <= extra; i++) await register(api, `node-bench-${i % services}`);
      await sleep(ctx.durations.idleSettleS);
      return { one, more: memoryBreakdown([agent.pid]), extra, services };
    } finally {
      await agent.stop();
    }
  } finally {
    for (const r of registrations) r.abort();
    await mesh.stop();
  }
}

/** A sidecar's memory idle, at the peak of a gRPC burst, and some seconds after it. */
export interface BurstFigures {
  idle: MemoryBreakdown;
  peakRss: number;
  after: MemoryBreakdown;
  callsPerSecond: number;
  burstS: number;
  afterS: number;
}

/**
 * The mesh path carrying gRPC unary calls (h2load, 100 in flight) for `burstS`, then nothing:
 * the client sidecar's memory `afterS` later (what it keeps after a burst).
 */
export async function grpcBurstFootprint(
  ctx: BenchContext,
  cp: ControlPlane,
  burstS: number,
  afterS: number,
): Promise<BurstFigures> {
  const backendPort = await freePort();
  const backend: Child = await startChild({
    name: 'grpc-echo',
    command: ctx.node,
    args: [join(REPO, 'bench', 'lib', 'grpc-echo-server.ts'), String(backendPort)],
    readyLine: /grpc-echo ready/,
  });
  try {
    const mesh = await startMesh(ctx, { cp }, backendPort, { protocol: 'grpc', servicePort: 50051 });
    try {
      const authority = `${mesh.service}:50051`;
      const works = await waitUntil(() => probeUnary(mesh.port, authority, 128), 20_000);
      if (works.outcome === 'timed-out')
        throw new Error(`a unary call through the mesh fails (${works.last})`);
      const client = mesh.proxies.find((p) => p.role === 'weft client sidecar')!.child.pid;
      await sleep(ctx.durations.idleSettleS);
      const idle = memoryBreakdown([client]);
      const dataFile = join(ctx.tmp, 'grpc-burst.bin');
      writeFileSync(dataFile, unaryRequestFrame(128));
      const sampler = new ResourceSampler(client);
      const load = await runH2load({
        bin: ctx.tools.h2load!,
        url: `http://127.0.0.1:${mesh.port}${UNARY_PATH}`,
        dataFile,
        clients: 10,
        streams: 10,
        warmupS: 0,
        durationS: burstS,
        headers: { 'content-type': 'application/grpc', te: 'trailers', ':authority': authority },
      });
      const peakRss = sampler.stop().peakRssBytes;
      await sleep(afterS);
      return {
        idle,
        peakRss,
        after: memoryBreakdown([client]),
        callsPerSecond: load.requestsPerSecond,
        burstS,
        afterS,
      };
    } finally {
      await mesh.stop();
    }
  } finally {
    await backend.stop();
  }
}

/** The figures of the footprint table, each measured or why not. */
export interface FootprintFigures {
  floor?: MemoryBreakdown;
  /** Idle private memory of the weft sidecars measured in the main table (largest). */
  idleSidecar?: MemoryBreakdown;
  node: NodeModeFigures | Error;
  burst: BurstFigures | Error;
}

const IDLE_PRIVATE_TARGET = 15e6;
const AFTER_BURST_TARGET = 40e6;
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
/** Per-workload figures are fractions of a MB. */
const mb2 = (bytes: number) => (bytes / 1e6).toFixed(2);
const failed = (e: Error) => `failed: ${e.message.split('\n')[0]}`;

/** The "what one more workload costs" table and its targets (issue 20). */
export function footprintSection(f: FootprintFigures, idleSettleS: number): string {
  const row = (what: string, m: MemoryBreakdown | undefined, notes = '') =>
    m
      ? `| ${what} | ${mb(m.private)} | ${mb(m.rss)} | ${mb(m.pss)} | ${notes} |`
      : `| ${what} | — | — | — | not measured |`;
  const rows = [row('empty Node.js process (the floor of any Node program)', f.floor)];
  rows.push(row('idle weft sidecar (`weft proxy`), the largest of the table above', f.idleSidecar));
  let perWorkload: number | undefined;
  if (f.node instanceof Error) rows.push(`| weft node agent | — | — | — | ${failed(f.node)} |`);
  else {
    const n = f.node;
    perWorkload = (n.more.private - n.one.private) / n.extra;
    rows.push(row('`weft node` agent serving 1 workload', n.one));
    rows.push(row(`\`weft node\` agent serving ${1 + n.extra} workloads`, n.more));
    rows.push(
      `| each more workload on the agent | ${mb2(perWorkload)} | ${mb2((n.more.rss - n.one.rss) / n.extra)} | ${mb2((n.more.pss - n.one.pss) / n.extra)} | (${1 + n.extra} − 1 workloads) / ${n.extra}, mesh of ${n.services} services |`,
    );
  }
  let afterBurst: number | undefined;
  if (f.burst instanceof Error) rows.push(`| client sidecar, gRPC burst | — | — | — | ${failed(f.burst)} |`);
  else {
    const b = f.burst;
    afterBurst = b.after.private;
    rows.push(row('client sidecar (mesh path, gRPC), idle before the burst', b.idle));
    rows.push(
      `| client sidecar at the peak of a ${b.burstS} s gRPC burst | — | ${mb(b.peakRss)} | — | ${Math.round(b.callsPerSecond)} calls/s, 100 in flight (h2load) |`,
    );
    rows.push(row(`client sidecar ${b.afterS} s after the burst`, b.after));
  }
  const checks = [
    check(
      'idle sidecar private memory ≤ 15 MB',
      f.idleSidecar?.private,
      'at-most',
      IDLE_PRIVATE_TARGET,
      (v) =>
        `${mb(v)} MB private; the empty Node.js process alone is ${f.floor ? mb(f.floor.private) : '?'} MB`,
      'no idle sidecar measured',
    ),
    check(
      'one more workload on a `weft node` agent ≤ 15 MB private',
      perWorkload,
      'at-most',
      IDLE_PRIVATE_TARGET,
      (v) => `${mb2(v)} MB private per workload`,
      'node mode not measured',
    ),
    check(
      `client sidecar private memory 10 s after a 20 s gRPC burst ≤ 40 MB${f.burst instanceof Error || f.burst.burstS === 20 ? '' : ` (this run: ${f.burst.burstS} s)`}`,
      afterBurst,
      'at-most',
      AFTER_BURST_TARGET,
      (v) => `${mb(v)} MB private`,
      'burst not measured',
    ),
  ];
  return `### What one more workload costs a host

Private memory (\`Private_Clean\` + \`Private_Dirty\` from \`/proc/PID/smaps_rollup\`) is what one more
process or workload adds to a host; RSS counts the \`node\` executable's pages that every Node.js process
shares; PSS divides those shared pages among the processes mapping them. Idle figures are taken
${idleSettleS} s after the proxy was ready. Node mode: one \`weft node\` agent, workloads registered through
its API one by one (each a full sidecar core: its own certificate, ports, xDS stream and config),
measured with 1 and then with more, in a mesh whose size stays the same (one instance of each
service runs on a second agent first; the measured workloads are more instances of them). Burst: the mesh path of the gRPC section, h2load
\`-c10 -m10\` unary calls through the client sidecar, then nothing.

| process | private MB | RSS MB | PSS MB | notes |
| --- | ---: | ---: | ---: | --- |
${rows.join('\n')}

What it means when choosing: a sidecar per workload costs a host its private memory per
workload, a floor no Node.js process goes under; a \`weft node\` agent per host costs that once, and
each workload on it only its own state (docs/node.md says what the shared process trades away).
What a sidecar's private memory is made of, and why a process per workload stays near 15 MB:
docs/design/sidecar-memory.md.
A sidecar gives back what a burst made it grow once it is idle again (the idle release,
docs/performance.md).

Targets (issue 20):
${targetLines(checks)}`;
}
