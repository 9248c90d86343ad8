// Benchmark: weft proxy CPU µs per gRPC unary call on one h2c hop (h2load → proxy → grpc-js), A/B across source trees.
//
// Run: `node bench/cpu-per-call-h2.ts [--rounds 4] [--slice 4] [--roots /work/main,/tmp/weft-base]
// [--rate 1000] [--concurrency 10x10] [--cpu-prof DIR] [--alloc-prof DIR]` (needs `h2load`; concurrency is h2load's clients x streams). Each root is a checkout of weft: this script starts one proxy
// per root, importing that root's `src/proxy/proxy.ts` (so an older commit in a `git worktree`
// can be compared with the working tree), with the V8 flags `weft proxy` adds. The HTTP/2 code
// paths are the mesh hop's (h2 server stream, router, pooled h2 upstream), without TLS and sidecar
// telemetry. The roots get h2load in turns (A, B, A, B, ...) so that what the neighbours do hits
// both alike; the figure is the proxy process's utime+stime from /proc per call the backend
// answered, which depends on the machine's load far less than calls/s does. `--cpu-prof` writes a V8
// CPU profile of each proxy, `--alloc-prof` a sampled allocation profile (lib/alloc-sampler.ts).
// Writes nothing to docs/.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { servedCounts, UNARY_PATH, unaryRequestFrame } from './lib/echo.ts';
import { runH2load } from './lib/h2load.ts';
import { freePort } from './lib/ports.ts';
import { sidecarSettings } from './lib/sidecar-settings.ts';

const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const TYPE_CLUSTER = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const TYPE_LISTENER = 'type.googleapis.com/envoy.config.listener.v3.Listener';
const HERE = fileURLToPath(new URL('..', import.meta.url));

function value(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** Serve mode (a child): the proxy core of `root` on `port`, every call routed to the h2c `backend`. */
async function serve(root: string, port: number, backend: number): Promise<void> {
  const { ProxyCore } = (await import(
    join(root, 'src/proxy/proxy.ts')
  )) as typeof import('../src/proxy/proxy.ts');
  const core = new ProxyCore();
  const address = (p: number) => ({ socketAddress: { address: '127.0.0.1', portValue: p } });
  const cluster = {
    name: 'backend',
    type: 'STATIC',
    connectTimeout: { seconds: 1 },
    http2ProtocolOptions: {},
    loadAssignment: {
      clusterName: 'backend',
      endpoints: [{ lbEndpoints: [{ endpoint: { address: address(backend) } }] }],
    },
  };
  const hcm = {
    '@type': HCM,
    statPrefix: 'bench',
    codecType: 'AUTO',
    routeConfig: {
      name: 'bench',
      virtualHosts: [
        { name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] },
      ],
    },
    httpFilters: [{ name: 'router', typedConfig: { '@type': ROUTER } }],
  };
  const listener = {
    name: 'bench',
    address: address(port),
    filterChains: [{ filters: [{ name: 'hcm', typedConfig: hcm }] }],
  };
  await core.apply(TYPE_CLUSTER, [{ name: 'backend', body: cluster }], '1', true);
  await core.apply(TYPE_LISTENER, [{ name: 'bench', body: listener }], '1', true);
  // A normal exit on SIGINT, so that `--cpu-prof` writes its file (the allocation sampler exits itself).
  if (process.env.WEFT_ALLOC_PROF === undefined) process.once('SIGINT', () => process.exit(0));
  process.stdout.write('ready\n');
}

/** utime + stime of a process, in clock ticks (USER_HZ, 100 on Linux). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function startChild(args: string[], flags: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...flags, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, WEFT_LOG_LEVEL: 'warn', ...env },
  });
  return new Promise((ready, reject) => {
    let text = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      text += d;
      if (/ready/.test(text)) ready(child);
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited ${code} before it was ready`)));
  });
}

async function main(): Promise<void> {
  const rounds = Number(value('--rounds') ?? 4);
  const slice = Number(value('--slice') ?? 4);
  const roots = (value('--roots') ?? HERE).split(',').map((r) => resolve(r));
  const cpuProf = value('--cpu-prof') ?? '';
  const allocProf = value('--alloc-prof') ?? '';
  // As bench/grpc.ts loads it: 100 calls in flight. (1x1 measures a call with no batching at all.)
  const [clients, streams] = (value('--concurrency') ?? '10x10').split('x').map(Number);
  // A fixed rate (calls/s in all) keeps the roots in the same regime: how many calls one event-loop
  // turn handles changes the CPU per call, and a closed loop lets that vary with the neighbours. 0: closed loop.
  const rate = Number(value('--rate') ?? 1000);
  const tmp = mkdtempSync(join(tmpdir(), 'weft-h2cpu-'));
  const children: ChildProcess[] = [];
  const stopAll = () =>
    Promise.all(
      children.map((c) =>
        c.exitCode !== null ? undefined : new Promise((done) => c.once('exit', done).kill('SIGINT')),
      ),
    );
  process.once('SIGINT', () => {
    stopAll().then(() => process.exit(130));
  });
  try {
    const backend = await freePort();
    children.push(await startChild([join(HERE, 'bench/lib/grpc-echo-server.ts'), String(backend)], []));
    const proxies: {
      root: string;
      port: number;
      pid: number;
      cpuS: number[];
      calls: number[];
      warmupCalls: number;
    }[] = [];
    for (const [i, root] of roots.entries()) {
      const port = await freePort();
      const settings = await sidecarSettings(root);
      const flags = settings.flags;
      const env: NodeJS.ProcessEnv = { ...settings.env };
      if (allocProf !== '') {
        flags.push('--import', fileURLToPath(new URL('lib/alloc-sampler.ts', import.meta.url)));
        env.WEFT_ALLOC_PROF = join(allocProf, `root${i}.heapprofile`);
      }
      if (cpuProf !== '')
        flags.push('--cpu-prof', `--cpu-prof-dir=${cpuProf}`, `--cpu-prof-name=root${i}.cpuprofile`);
      const child = await startChild(
        [fileURLToPath(import.meta.url), '--serve', root, String(port), String(backend)],
        flags,
        env,
      );
      children.push(child);
      proxies.push({ root, port, pid: child.pid!, cpuS: [], calls: [], warmupCalls: 0 });
    }
    const dataFile = join(tmp, 'unary.bin');
    writeFileSync(dataFile, unaryRequestFrame(128));
    const load = (port: number, seconds: number) =>
      runH2load({
        bin: 'h2load',
        url: `http://127.0.0.1:${port}${UNARY_PATH}`,
        dataFile,
        clients,
        streams,
        warmupS: 0,
        durationS: seconds,
        headers: { 'content-type': 'application/grpc', te: 'trailers' },
        rpsPerClient: rate > 0 ? rate / clients : undefined,
      });
    for (const p of proxies) {
      const served = (await servedCounts(backend)).unary;
      await load(p.port, 2); // warm-up (JIT)
      p.warmupCalls = (await servedCounts(backend)).unary - served;
    }
    for (let r = 0; r < rounds; r++) {
      for (const p of proxies) {
        const served = (await servedCounts(backend)).unary;
        const ticks = cpuTicks(p.pid);
        const result = await load(p.port, slice);
        const calls = (await servedCounts(backend)).unary - served;
        const cpuS = (cpuTicks(p.pid) - ticks) / 100;
        if (result.failed + result.errored > 0)
          throw new Error(`${p.root}: ${result.failed + result.errored} calls failed`);
        p.cpuS.push(cpuS);
        p.calls.push(calls);
        process.stderr.write(
          `round ${r + 1} ${p.root}: ${Math.round(calls / slice)} calls/s, ${((cpuS * 1e6) / calls).toFixed(1)} µs CPU per call\n`,
        );
      }
    }
    const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    process.stdout.write(
      `\nload average ${load1}; ${rounds} rounds of ${slice} s each, ${rate > 0 ? `${rate} calls/s` : 'closed loop'}, ${clients}x${streams}\n`,
    );
    const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const perCall = (p: (typeof proxies)[number]) => p.cpuS.map((c, i) => (c * 1e6) / p.calls[i]);
    for (const p of proxies.slice(1)) {
      const a = perCall(proxies[0]);
      const ratios = perCall(p).map((b, i) => b / a[i]);
      process.stdout.write(
        `${p.root} / ${proxies[0].root}, median of the rounds' ratios: ${median(ratios).toFixed(3)}\n`,
      );
    }
    for (const p of proxies) {
      const cpu = p.cpuS.reduce((a, b) => a + b, 0);
      const calls = p.calls.reduce((a, b) => a + b, 0);
      const perRound = p.cpuS.map((c, i) => ((c * 1e6) / p.calls[i]).toFixed(1)).join(', ');
      process.stdout.write(
        `${p.root}: ${((cpu * 1e6) / calls).toFixed(1)} µs CPU per call (rounds: ${perRound}); ${calls + p.warmupCalls} calls in all, warm-up included${allocProf === '' ? '' : ' (divide the allocation profile by these)'}\n`,
      );
    }
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve')
  await serve(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
else await main();
