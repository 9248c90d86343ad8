// Benchmark: the cost of mTLS on the sidecar-to-sidecar hop (wrk → client sidecar → server sidecar → nginx), plaintext vs mTLS in the same run.
//
// Run: `node bench/mtls.ts [--quick]` (needs `wrk` and `nginx`: `apt-get install -y wrk nginx-light`).
// Writes its own section of docs/benchmarks.md (`<!-- bench:mtls:start/end -->`).
//
// One control plane, two real `weft proxy` processes and one nginx backend serving 1 KiB: the
// same processes carry both variants. The hop is switched with a DestinationRule
// (`tls.mode: DISABLE` for plaintext; none for the default auto mTLS) while the server stays
// PERMISSIVE; each variant is measured twice, interleaved, and every measured run is checked to
// have used the transport it claims (the client's TLS handshake counter moves only under mTLS).
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchContext, FULL, QUICK, REPO } from './lib/context.ts';
import { writeSection } from './lib/doc.ts';
import { machineInfo, weftCommit } from './lib/machine.ts';
import { BODY_1KIB, startNginxBackend } from './lib/nginx.ts';
import { freePort } from './lib/ports.ts';
import { installCleanup, stopAll } from './lib/processes.ts';
import { ResourceSampler } from './lib/procfs.ts';
import { fmtInt, fmtMs, markdownTable } from './lib/table.ts';
import { findTools } from './lib/tools.ts';
import {
  type ControlPlane,
  mustApply,
  startControlPlane,
  startProxy,
  type WeftProxy,
  waitUntil,
} from './lib/weft.ts';
import { runWrk, type WrkResult, wrkErrors } from './lib/wrk.ts';

const CONNECTIONS = 50;
const HOST = 'backend';
const CLUSTER = 'outbound|80||backend.default.svc.cluster.local';

type Variant = 'plaintext' | 'mTLS';

interface Measured {
  variant: Variant;
  result: WrkResult;
  /** CPU seconds both sidecars used per 1,000 requests. */
  cpuPer1k: number;
  /** TLS handshakes the client sidecar made during the warm-up and measured run. */
  handshakes: number;
}

const DISABLE_TLS = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend, namespace: default }
spec:
  host: backend.default.svc.cluster.local
  trafficPolicy: { tls: { mode: DISABLE } }
`;
/** The same rule with no tls: auto mTLS again (applied over the one above). */
const AUTO_MTLS = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend, namespace: default }
spec:
  host: backend.default.svc.cluster.local
  trafficPolicy: { connectionPool: { tcp: { connectTimeout: 10s } } }
`;

/** One GET through a sidecar's outbound port with the given Host (fetch cannot set Host). */
function getThrough(port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

async function handshakes(proxy: WeftProxy): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${proxy.ports.admin}/stats/prometheus`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('envoy_cluster_ssl_handshake{') && l.includes(CLUSTER));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** The variant the client sidecar's cluster is configured for now (from its config_dump). */
async function configured(proxy: WeftProxy): Promise<Variant> {
  const dump = (await (await fetch(`http://127.0.0.1:${proxy.ports.admin}/config_dump`)).json()) as {
    configs: { typeUrl: string; resources: { name: string; resource: Record<string, unknown> }[] }[];
  };
  const cluster = dump.configs
    .find((c) => c.typeUrl.endsWith('Cluster'))
    ?.resources.find((r) => r.name === CLUSTER)?.resource;
  return cluster?.transportSocketMatches ? 'mTLS' : 'plaintext';
}

async function measure(
  ctx: BenchContext,
  variant: Variant,
  client: WeftProxy,
  server: WeftProxy,
): Promise<Measured> {
  ctx.log(`mtls: ${variant}`);
  const options = {
    bin: ctx.tools.wrk!,
    url: `http://127.0.0.1:${client.ports.outbound}/`,
    connections: CONNECTIONS,
    threads: 1,
    durationS: ctx.durations.measureS,
    headers: { Host: HOST },
  };
  const before = await handshakes(client);
  await runWrk(options, ctx.durations.warmupS);
  const samplers = [new ResourceSampler(client.child.pid), new ResourceSampler(server.child.pid)];
  const result = await runWrk(options);
  const cpu = samplers.reduce((sum, s) => sum + s.stop().cpuSeconds, 0);
  const made = (await handshakes(client)) - before;
  return { variant, result, cpuPer1k: (cpu / Math.max(1, result.requests)) * 1000, handshakes: made };
}

async function switchTo(
  ctx: BenchContext,
  cp: ControlPlane,
  variant: Variant,
  client: WeftProxy,
): Promise<void> {
  await mustApply(ctx, cp, `mtls-${variant}`, variant === 'plaintext' ? DISABLE_TLS : AUTO_MTLS);
  const waited = await waitUntil(
    async () => ((await configured(client)) === variant ? 'ok' : 'not yet'),
    30_000,
  );
  if (waited.outcome !== 'ok')
    throw new Error(`the client sidecar did not switch to ${variant}: ${waited.last}`);
}

function mean(rows: Measured[], pick: (m: Measured) => number): number {
  return rows.reduce((s, m) => s + pick(m), 0) / rows.length;
}

function section(ctx: BenchContext, runs: Measured[], direct: WrkResult): string {
  const of = (v: Variant) => runs.filter((r) => r.variant === v);
  const plain = of('plaintext');
  const mtls = of('mTLS');
  const rows = [
    [
      'direct to nginx (reference)',
      fmtInt(direct.requestsPerSecond),
      fmtMs(direct.latencyMs.p50),
      fmtMs(direct.latencyMs.p99),
      '',
      '',
      fmtInt(wrkErrors(direct)),
    ],
    ...runs.map((m, i) => [
      `${m.variant}, run ${Math.floor(i / 2) + 1}`,
      fmtInt(m.result.requestsPerSecond),
      fmtMs(m.result.latencyMs.p50),
      fmtMs(m.result.latencyMs.p99),
      m.cpuPer1k.toFixed(3),
      fmtInt(m.handshakes),
      fmtInt(wrkErrors(m.result)),
    ]),
  ];
  const rps = (v: Measured[]) => mean(v, (m) => m.result.requestsPerSecond);
  const p50 = (v: Measured[]) => mean(v, (m) => m.result.latencyMs.p50);
  const p99 = (v: Measured[]) => mean(v, (m) => m.result.latencyMs.p99);
  const cpu = (v: Measured[]) => mean(v, (m) => m.cpuPer1k);
  const pct = (a: number, b: number) => `${(((a - b) / b) * 100).toFixed(1)} %`;
  const machine = machineInfo();
  return `## mTLS on the sidecar-to-sidecar hop

wrk -t1 -c${CONNECTIONS} → client \`weft proxy\` (outbound, Host: ${HOST}) → server \`weft proxy\`
(inbound, PERMISSIVE) → nginx serving 1 KiB; ${ctx.durations.warmupS} s warm-up, ${ctx.durations.measureS} s
measured per run, the two variants interleaved on the same processes. Plaintext: a DestinationRule
with \`tls.mode: DISABLE\`; mTLS: weft's default (auto mTLS, TLS 1.3, ECDSA P-256 certificates,
secure naming). "CPU" is the CPU time of both sidecars per 1,000 requests; "handshakes" the TLS
handshakes the client sidecar made during warm-up and run (upstream connections are pooled, so
mTLS costs a handshake per new connection, then encryption per byte).

${markdownTable(['path', 'req/s', 'p50 (ms)', 'p99 (ms)', 'CPU s/1k rq', 'handshakes', 'errors'], rows, ['left', 'right', 'right', 'right', 'right', 'right', 'right'])}

Mean of the two runs each: plaintext ${fmtInt(rps(plain))} req/s, p50 ${fmtMs(p50(plain))}, p99 ${fmtMs(p99(plain))};
mTLS ${fmtInt(rps(mtls))} req/s, p50 ${fmtMs(p50(mtls))}, p99 ${fmtMs(p99(mtls))}.
**Added cost of mTLS: ${pct(rps(mtls), rps(plain))} req/s, p50 ${pct(p50(mtls), p50(plain))}, p99 ${pct(p99(mtls), p99(plain))},
CPU per request ${pct(cpu(mtls), cpu(plain))}.**

Machine: ${machine.cpuModel}, ${machine.cores} cores; weft ${weftCommit(REPO)}; Node ${process.version}${ctx.quick ? '; **--quick run: figures not for comparison**' : ''}.
`;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const tmp = mkdtempSync(join(tmpdir(), 'weft-bench-mtls-'));
  installCleanup(async () => rmSync(tmp, { recursive: true, force: true }));
  const ctx: BenchContext = {
    quick,
    durations: quick ? QUICK : FULL,
    tools: findTools(),
    tmp,
    node: process.execPath,
    cores: cpus().length,
    log: (m) => process.stderr.write(`${m}\n`),
  };
  if (!ctx.tools.wrk || !ctx.tools.nginx)
    throw new Error('bench/mtls.ts needs wrk and nginx: apt-get install -y wrk nginx-light');
  const backendPort = await freePort();
  await startNginxBackend(ctx, backendPort);
  const direct = await runWrk({
    bin: ctx.tools.wrk,
    url: `http://127.0.0.1:${backendPort}/`,
    connections: CONNECTIONS,
    threads: 1,
    durationS: ctx.durations.measureS,
  });
  const cp = await startControlPlane(ctx);
  const server = await startProxy(ctx, cp, { service: HOST, appPort: backendPort });
  const client = await startProxy(ctx, cp, { service: 'client', appPort: await freePort() });
  const body = await getThrough(client.ports.outbound, HOST);
  if (body !== BODY_1KIB) throw new Error(`the mesh path does not reach nginx: ${body.slice(0, 200)}`);
  const runs: Measured[] = [];
  for (const variant of ['plaintext', 'mTLS', 'plaintext', 'mTLS'] as const) {
    await switchTo(ctx, cp, variant, client);
    const m = await measure(ctx, variant, client, server);
    // The transport claimed is the one used: handshakes happen under mTLS only.
    if ((variant === 'mTLS') !== m.handshakes > 0)
      throw new Error(`${variant} run made ${m.handshakes} TLS handshakes: the hop is not what it claims`);
    runs.push(m);
  }
  const text = section(ctx, runs, direct);
  writeSection(join(REPO, 'docs', 'benchmarks.md'), 'mtls', text);
  process.stdout.write(text);
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench/mtls.ts: ${err instanceof Error ? err.message : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
