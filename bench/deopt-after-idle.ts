// Tool: counts the proxy functions V8 deoptimizes at the first full GC after every gRPC connection closed (docs/design/tail-latency.md, the shape anchor).
//
// Run: `node bench/deopt-after-idle.ts [--roots /work/main,/tmp/weft-base] [--upstream-idle-ms 0]`
// (needs `h2load`). For each root (a checkout of weft) it starts a gRPC echo backend and one proxy
// on that root's `src/proxy/proxy.ts` (h2c listener, every call routed to the backend over the h2
// upstream pool) with the sidecar's V8 flags and `--trace-deopt`, drives 3 s of unary calls
// through it with h2load, waits until h2load's connections (and, with --upstream-idle-ms N, the
// pool's upstream sessions after N ms idle) are closed, then runs two full GCs in the proxy (as the
// idle release does) and prints the functions deoptimized by them. Writes nothing to docs/.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

async function main(): Promise<void> {
  const roots = (value('--roots') ?? HERE).split(',').map((r) => resolve(r));
  const upstreamIdleMs = Number(value('--upstream-idle-ms') ?? 0);
  const tmp = mkdtempSync(join(tmpdir(), 'weft-deopt-'));
  const children: ChildProcess[] = [];
  try {
    const dataFile = join(tmp, 'unary.bin');
    writeFileSync(dataFile, unaryRequestFrame(128));
    for (const root of roots) {
      const backend = await freePort();
      children.push(
        (await startChild([join(HERE, 'bench/lib/grpc-echo-server.ts'), String(backend)], [])).child,
      );
      const port = await freePort();
      const settings = await sidecarSettings(root);
      const proxy = await startChild(
        [
          fileURLToPath(import.meta.url),
          '--serve',
          root,
          String(port),
          String(backend),
          String(upstreamIdleMs),
        ],
        [...settings.flags, '--trace-deopt'],
        settings.env,
      );
      children.push(proxy.child);
      const result = await runH2load({
        bin: 'h2load',
        url: `http://127.0.0.1:${port}${UNARY_PATH}`,
        dataFile,
        clients: 10,
        streams: 10,
        warmupS: 0,
        durationS: 3,
        headers: { 'content-type': 'application/grpc', te: 'trailers' },
        rpsPerClient: undefined,
      });
      // h2load has closed its connections; the pool's sessions close after their idle timeout.
      await sleep(500 + upstreamIdleMs);
      proxy.child.kill('SIGUSR2');
      for (let i = 0; i < 100 && !proxy.out().includes('gc done'); i++) await sleep(100);
      const names = deoptimized(proxy.out());
      const mem = /heap used (\d+) array buffers (\d+)/.exec(proxy.out());
      const kb = (i: number) => (mem ? Math.round(Number(mem[i]) / 1024) : Number.NaN);
      process.stdout.write(
        `${root}: ${result.succeeded} calls; ${names.length} functions deoptimized by the idle GC; after it heap used ${kb(1)} KB, array buffers ${kb(2)} KB\n  ${names.join('\n  ')}\n`,
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
