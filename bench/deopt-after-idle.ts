// Tool: counts the proxy functions V8 deoptimizes at the first full GC after every gRPC connection closed (docs/design/tail-latency.md, the shape anchor).
//
// Run: `node bench/deopt-after-idle.ts [--roots /work/main,/tmp/weft-base] [--upstream-idle-ms 0]
// [--rounds 0] [--burst 2] [--rate 1000]`
// (needs `h2load`). For each root (a checkout of weft) it starts a gRPC echo backend and one proxy
// on that root's `src/proxy/proxy.ts` (h2c listener, every call routed to the backend over the h2
// upstream pool) with the sidecar's V8 flags and `--trace-deopt`, drives 3 s of unary calls
// through it with h2load, waits until h2load's connections (and, with --upstream-idle-ms N, the
// pool's upstream sessions after N ms idle) are closed, then runs two full GCs in the proxy (as the
// idle release does) and prints the functions deoptimized by them. With --rounds N: N pauses per
// root, in turns (A, B, A, B...), each an idle GC then a burst of --burst s at --rate calls/s, and
// the proxy's utime+stime per call of each burst (what re-optimizing after a pause costs). Writes
// nothing to docs/.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UNARY_PATH, unaryRequestFrame } from './lib/echo.ts';
import { runH2load } from './lib/h2load.ts';
import { freePort } from './lib/ports.ts';
import { sidecarSettings } from './lib/sidecar-settings.ts';

const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const HERE = fileURLToPath(new URL('..', import.meta.url));
const GC_MARK = '--- idle gc ---';

function value(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** Serve mode (a child): the proxy core of `root` on `port`, routed to the h2c `backend`; SIGUSR2 runs two full GCs. */
async function serve(root: string, port: number, backend: number, upstreamIdleMs: number): Promise<void> {
  const { ProxyCore } = (await import(
    join(root, 'src/proxy/proxy.ts')
  )) as typeof import('../src/proxy/proxy.ts');
  const core = new ProxyCore();
  const address = (p: number) => ({ socketAddress: { address: '127.0.0.1', portValue: p } });
  const idle = upstreamIdleMs > 0 ? { idleTimeout: { nanos: upstreamIdleMs * 1e6 } } : undefined;
  const cluster = {
    name: 'backend',
    type: 'STATIC',
    connectTimeout: { seconds: 1 },
    http2ProtocolOptions: {},
    ...(idle ? { commonHttpProtocolOptions: idle } : {}),
    loadAssignment: {
      clusterName: 'backend',
      endpoints: [{ lbEndpoints: [{ endpoint: { address: address(backend) } }] }],
    },
  };
  const routes = [{ match: { prefix: '/' }, route: { cluster: 'backend' } }];
  const hcm = {
    '@type': HCM,
    statPrefix: 'probe',
    codecType: 'AUTO',
    routeConfig: { name: 'probe', virtualHosts: [{ name: 'all', domains: ['*'], routes }] },
    httpFilters: [{ name: 'router', typedConfig: { '@type': ROUTER } }],
  };
  const listener = {
    name: 'probe',
    address: address(port),
    filterChains: [{ filters: [{ name: 'hcm', typedConfig: hcm }] }],
  };
  await core.apply(
    'type.googleapis.com/envoy.config.cluster.v3.Cluster',
    [{ name: 'backend', body: cluster }],
    '1',
    true,
  );
  await core.apply(
    'type.googleapis.com/envoy.config.listener.v3.Listener',
    [{ name: 'probe', body: listener }],
    '1',
    true,
  );
  process.on('SIGUSR2', () => {
    process.stdout.write(`${GC_MARK}\n`);
    globalThis.gc?.();
    globalThis.gc?.();
    // After the deoptimizations the GC marked: lazy ones are reported when the function next runs, eager ones now.
    setTimeout(() => {
      const m = process.memoryUsage();
      process.stdout.write(`heap used ${m.heapUsed} array buffers ${m.arrayBuffers}\ngc done\n`);
    }, 100);
  });
  process.once('SIGINT', () => process.exit(0));
  process.stdout.write('ready\n');
}

/** A child whose stdout is kept; resolves once it printed `ready`. */
function startChild(
  args: string[],
  flags: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, [...flags, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, WEFT_LOG_LEVEL: 'warn', ...env },
  });
  let text = '';
  child.stdout!.setEncoding('utf8');
  return new Promise((ready, reject) => {
    child.stdout!.on('data', (d: string) => {
      const was = text.includes('ready');
      text += d;
      if (!was && text.includes('ready')) ready({ child, out: () => text });
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited ${code} before it was ready`)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The functions named in --trace-deopt lines after the GC mark (deduplicated, in order). */
function deoptimized(out: string): string[] {
  const after = out.slice(out.indexOf(GC_MARK));
  const names = new Set<string>();
  for (const line of after.split('\n')) {
    if (!/deoptimiz|bailout/.test(line)) continue;
    const m = /<(?:JSFunction|SharedFunctionInfo) ([^ >]+)[^>]*>/.exec(line);
    const reason = /reason: ([^\])]+)/.exec(line);
    names.add(`${m ? m[1] : line.trim().slice(0, 100)}${reason ? ` (${reason[1]})` : ''}`);
  }
  return [...names];
}

/** utime + stime of a process, in clock ticks (USER_HZ, 100 on Linux). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

interface Proxy {
  root: string;
  port: number;
  child: ChildProcess;
  out: () => string;
  /** Where this proxy's output stood before the latest idle GC. */
  mark: number;
  /** CPU µs per call of each burst after an idle GC. */
  perCall: number[];
}

/** Every connection to the proxy closed: two full GCs in it (as the idle release runs them); returns its output since. */
async function idleGc(p: Proxy, upstreamIdleMs: number): Promise<string> {
  await sleep(500 + upstreamIdleMs);
  p.mark = p.out().length;
  p.child.kill('SIGUSR2');
  for (let i = 0; i < 100 && !p.out().slice(p.mark).includes('gc done'); i++) await sleep(50);
  return p.out().slice(p.mark);
}

async function main(): Promise<void> {
  const roots = (value('--roots') ?? HERE).split(',').map((r) => resolve(r));
  const upstreamIdleMs = Number(value('--upstream-idle-ms') ?? 0);
  const rounds = Number(value('--rounds') ?? 0);
  const burstS = Number(value('--burst') ?? 2);
  const rate = Number(value('--rate') ?? 1000);
  const tmp = mkdtempSync(join(tmpdir(), 'weft-deopt-'));
  const children: ChildProcess[] = [];
  try {
    const dataFile = join(tmp, 'unary.bin');
    writeFileSync(dataFile, unaryRequestFrame(128));
    const load = (port: number, seconds: number, perSecond: number) =>
      runH2load({
        bin: 'h2load',
        url: `http://127.0.0.1:${port}${UNARY_PATH}`,
        dataFile,
        clients: 10,
        streams: 10,
        warmupS: 0,
        durationS: seconds,
        headers: { 'content-type': 'application/grpc', te: 'trailers' },
        rpsPerClient: perSecond > 0 ? perSecond / 10 : undefined,
      });
    const proxies: Proxy[] = [];
    for (const root of roots) {
      const backend = await freePort();
      children.push(
        (await startChild([join(HERE, 'bench/lib/grpc-echo-server.ts'), String(backend)], [])).child,
      );
      const port = await freePort();
      const settings = await sidecarSettings(root);
      const args = [fileURLToPath(import.meta.url), '--serve', root, String(port), String(backend)];
      const flags = [...settings.flags, '--trace-deopt'];
      const started = await startChild([...args, String(upstreamIdleMs)], flags, settings.env);
      children.push(started.child);
      proxies.push({ root, port, ...started, mark: 0, perCall: [] });
    }
    for (const p of proxies) {
      const result = await load(p.port, 3, 0);
      const names = deoptimized(await idleGc(p, upstreamIdleMs));
      const mem = /heap used (\d+) array buffers (\d+)/.exec(p.out().slice(p.mark));
      const kb = (i: number) => (mem ? Math.round(Number(mem[i]) / 1024) : Number.NaN);
      process.stdout.write(
        `${p.root}: ${result.succeeded} calls; ${names.length} functions deoptimized by the idle GC; after it heap used ${kb(1)} KB, array buffers ${kb(2)} KB\n  ${names.join('\n  ')}\n`,
      );
    }
    // Pauses: a burst at a fixed rate right after each idle GC, the roots in turns; CPU per call of the burst.
    for (let r = 0; r < rounds; r++) {
      for (const p of proxies) {
        if (r > 0) await idleGc(p, upstreamIdleMs);
        const ticks = cpuTicks(p.child.pid!);
        const result = await load(p.port, burstS, rate);
        p.perCall.push(((cpuTicks(p.child.pid!) - ticks) * 1e4) / result.succeeded);
      }
    }
    if (rounds > 0) {
      const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      process.stdout.write(
        `\nload average ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}; ${rounds} bursts of ${burstS} s at ${rate} calls/s, each right after an idle GC\n`,
      );
      for (const p of proxies)
        process.stdout.write(
          `${p.root}: CPU µs per call, median ${median(p.perCall).toFixed(1)} (bursts: ${p.perCall.map((x) => x.toFixed(1)).join(', ')})\n`,
        );
    }
  } finally {
    await Promise.all(
      children.map((c) =>
        c.exitCode !== null ? undefined : new Promise((done) => c.once('exit', done).kill('SIGINT')),
      ),
    );
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve')
  await serve(process.argv[3], Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]));
else await main();
