// Benchmark: idle private memory of one `weft proxy` sidecar (and start-up CPU), A/B across source trees, one sidecar at a time.
//
// Run: `node bench/idle-memory.ts [--roots /work/main,/tmp/weft-base] [--repeats 4] [--settle 12] [--requests 0]`.
// One control plane (this checkout's) with STRICT mTLS and one server sidecar (in front of a 1 KiB
// HTTP backend in this process); then, in turns (A, B, B, A, ...), a client sidecar from each root's
// bin/weft.js, always with the same service name so that every one gets the same configuration,
// `--requests N` > 0: answering N requests to the server sidecar's service first, each on a new
// connection (as bench/memory.ts's probes: then "idle after its first requests"), idle for
// --settle seconds (its idle release has run), its /proc/PID/smaps_rollup read, then stopped. One
// at a time, because a sidecar that starts changes the others' configuration. Prints each root's
// figures; writes nothing to docs/.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BenchContext } from './lib/context.ts';
import { probeHttp } from './lib/http-probe.ts';
import { freePort } from './lib/ports.ts';
import { cpuSeconds, type MemoryBreakdown, memoryBreakdown, processTree } from './lib/procfs.ts';
import { applyYaml, STRICT_MTLS_YAML, startControlPlane, startProxy, waitUntil } from './lib/weft.ts';

/** Figures of one client sidecar. */
interface Sample {
  memory: MemoryBreakdown;
  /** CPU seconds from exec to its ready line (the flags re-exec and module loading included). */
  startCpuS: number;
}

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const BODY = Buffer.alloc(1024, 'x');

/** Sends `n` requests through the client sidecar's outbound port to `service` (the first once the route works). */
async function firstRequests(outbound: number, service: string, n: number): Promise<void> {
  const works = await waitUntil(() => probeHttp(outbound, service, BODY.length), 30_000);
  if (works.outcome === 'timed-out')
    throw new Error(`no answer through the client sidecar within 30 s: ${works.last}`);
  for (let i = 1; i < n; i++) {
    const r = await probeHttp(outbound, service, BODY.length);
    if (r !== 'ok') throw new Error(`request ${i + 1} through the client sidecar failed: ${r}`);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const here = resolve(import.meta.dirname, '..');
  const roots = option('--roots', here)
    .split(',')
    .map((r) => resolve(r));
  const repeats = Number(option('--repeats', '4'));
  const settleS = Number(option('--settle', '12'));
  const requests = Number(option('--requests', '0'));
  const tmp = mkdtempSync(join(tmpdir(), 'weft-idle-memory-'));
  // lib/weft.ts reads only these of a benchmark's context.
  const ctx = {
    node: process.execPath,
    tmp,
    log: (m: string) => process.stderr.write(`${m}\n`),
  } as unknown as BenchContext;
  const backend = createServer((_req, res) => res.end(BODY));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const cp = await startControlPlane(ctx);
  const samples = new Map<string, Sample[]>(roots.map((r) => [r, []]));
  try {
    await applyYaml(ctx, cp, 'peer-authentication', STRICT_MTLS_YAML);
    const server = await startProxy(ctx, cp, {
      service: 'idle-server',
      appPort: (backend.address() as AddressInfo).port,
    });
    for (let round = 0; round < repeats; round++)
      for (const root of round % 2 === 0 ? roots : [...roots].reverse()) {
        const bin = join(root, 'bin', 'weft.js');
        const proxy = await startProxy(ctx, cp, { service: 'idle-client', appPort: await freePort(), bin });
        try {
          const startCpuS = cpuSeconds(processTree(proxy.child.pid));
          if (requests > 0) await firstRequests(proxy.ports.outbound, 'idle-server', requests);
          await sleep(settleS);
          samples.get(root)?.push({ memory: memoryBreakdown(processTree(proxy.child.pid)), startCpuS });
        } finally {
          await proxy.child.stop();
        }
      }
    await server.child.stop();
  } finally {
    await cp.child.stop();
    backend.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(
    `load average at the end: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  for (const [root, xs] of samples) {
    const priv = xs.map((x) => x.memory.private);
    console.log(
      `${root}: private MB ${priv.map(mb).join(' ')} (median ${mb(median(priv))}); ` +
        `VmRSS MB median ${mb(median(xs.map((x) => x.memory.rss)))}; ` +
        `CPU s to ready ${xs.map((x) => x.startCpuS.toFixed(2)).join(' ')}`,
    );
  }
}

await main();
