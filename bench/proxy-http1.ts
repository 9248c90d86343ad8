// Benchmark: HTTP/1.1 through weft's proxy vs nginx vs direct (wrk, closed loop); writes docs/benchmarks.md "Proxy".
//
// Run: `node bench/proxy-http1.ts [--duration 10] [--connections 50]` (needs `wrk` and `nginx`:
// `apt-get install -y wrk nginx-light`). Every path hits the same nginx backend serving a small body.
// Besides req/s and latency it reports the CPU time the proxy process spent per request, which is
// what a loaded 2-core machine cannot blur.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProxyCore } from '../src/proxy/proxy.ts';
import { TYPE_URL } from '../src/xds/type-urls.ts';

const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

interface Row {
  path: string;
  rps: number;
  p50: string;
  p99: string;
  cpuUsPerRq: string;
  errors: number;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A weft proxy process in "serve" mode: listener `port` routes every request to `backend`. */
async function serve(port: number, backend: number, routeTimeoutSeconds: number): Promise<void> {
  const core = new ProxyCore();
  const cluster = {
    name: 'backend',
    type: 'STATIC',
    connectTimeout: { seconds: 1 },
    loadAssignment: {
      clusterName: 'backend',
      endpoints: [
        {
          lbEndpoints: [
            { endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: backend } } } },
          ],
        },
      ],
    },
  };
  const listener = {
    name: 'bench',
    address: { socketAddress: { address: '127.0.0.1', portValue: port } },
    filterChains: [
      {
        filters: [
          {
            name: 'hcm',
            typedConfig: {
              '@type': HCM,
              statPrefix: 'bench',
              codecType: 'AUTO',
              routeConfig: {
                name: 'bench',
                virtualHosts: [
                  {
                    name: 'all',
                    domains: ['*'],
                    routes: [
                      {
                        match: { prefix: '/' },
                        route: {
                          cluster: 'backend',
                          timeout: routeTimeoutSeconds > 0 ? { seconds: routeTimeoutSeconds } : {},
                        },
                      },
                    ],
                  },
                ],
              },
              httpFilters: [{ name: 'router', typedConfig: { '@type': ROUTER } }],
            },
          },
        ],
      },
    ],
  };
  await core.apply(TYPE_URL.cluster, [{ name: 'backend', body: cluster }], '1', true);
  await core.apply(TYPE_URL.listener, [{ name: 'bench', body: listener }], '1', true);
  // A normal exit on SIGINT, so that `--cpu-prof` / `--heap-prof` write their files.
  process.once('SIGINT', () => process.exit(0));
  process.stdout.write('ready\n');
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function wrk(
  url: string,
  seconds: number,
  connections: number,
): { rps: number; p50: string; p99: string; errors: number; requests: number } {
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url], {
    encoding: 'utf8',
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const p50 = /\s50%\s+(\S+)/.exec(out)?.[1] ?? '?';
  const p99 = /\s99%\s+(\S+)/.exec(out)?.[1] ?? '?';
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((s, x) => s + Number(x), 0) : 0);
  return { rps, p50, p99, errors, requests };
}

function startNginx(dir: string, name: string, body: string): ChildProcess {
  const conf = join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    `worker_processes 1;\ndaemon off;\nerror_log ${join(dir, `${name}.err`)};\npid ${join(dir, `${name}.pid`)};\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n${body}\n}\n`,
  );
  return spawn('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' });
}

/** Pid of nginx's single worker (the process doing the work). */
function nginxWorker(master: ChildProcess): number {
  const children = execFileSync('pgrep', ['-P', String(master.pid)], { encoding: 'utf8' })
    .trim()
    .split('\n');
  return Number(children[0]);
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open`);
}

function spawnWeft(port: number, backend: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), '--serve', String(port), String(backend)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, WEFT_LOG_LEVEL: 'warn' },
    },
  );
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`weft bench proxy exited ${code}`)));
  });
}

async function measure(
  path: string,
  url: string,
  pids: number[],
  seconds: number,
  connections: number,
): Promise<Row> {
  wrk(url, 2, connections); // warm-up
  const hz = 100; // USER_HZ on Linux
  const before = pids.map(cpuTicks);
  const r = wrk(url, seconds, connections);
  const after = pids.map(cpuTicks);
  const cpuSeconds = after.reduce((s, t, i) => s + t - before[i], 0) / hz;
  return {
    path,
    rps: Math.round(r.rps),
    p50: r.p50,
    p99: r.p99,
    cpuUsPerRq: pids.length === 0 ? '—' : ((cpuSeconds * 1e6) / Math.max(1, r.requests)).toFixed(1),
    errors: r.errors,
  };
}

function writeDoc(rows: Row[], seconds: number, connections: number): void {
  const file = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
  let doc = '';
  try {
    doc = readFileSync(file, 'utf8');
  } catch {
    doc =
      '# Benchmarks\n\nFigures measured on the development machine; each section says how to reproduce it.\n';
  }
  const table = [
    '| path to an nginx backend (small body) | req/s | p50 | p99 | proxy CPU µs/request | errors |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.path} | ${r.rps.toLocaleString('en-US')} | ${r.p50} | ${r.p99} | ${r.cpuUsPerRq} | ${r.errors} |`,
    ),
  ].join('\n');
  const section = `<!-- proxy-http1:start -->
## Proxy (quick check)

\`node bench/proxy-http1.ts\` — wrk -t1 -c${connections}, ${seconds} s per path, HTTP/1.1 keep-alive,
one process (one nginx worker, one Node process) per proxy, all on the same machine in the same run
(${new Date().toISOString().slice(0, 10)}, ${process.version}). The proxies are fed static config (no control plane). The machine
is shared and has 2 cores, so wrk, backend and proxy compete for CPU: compare rows within one run,
and read "proxy CPU µs/request" (CPU time of the proxy processes divided by requests served) as
the cost that does not depend on the neighbours. \`npm run bench\` measures the full mesh path.

${table}
<!-- proxy-http1:end -->
`;
  const start = doc.indexOf('<!-- proxy-http1:start -->');
  const end = doc.indexOf('<!-- proxy-http1:end -->');
  if (start >= 0 && end > start)
    doc = doc.slice(0, start) + section + doc.slice(end + '<!-- proxy-http1:end -->\n'.length);
  else {
    // An unmarked section from an earlier version of this script is replaced too.
    const old = doc.indexOf('## Proxy\n');
    if (old >= 0) {
      const next = doc.indexOf('\n## ', old + 1);
      const nextMarker = doc.indexOf('\n<!--', old + 1);
      const stop = [next, nextMarker].filter((i) => i >= 0).sort((a, b) => a - b)[0];
      doc = doc.slice(0, old) + section + (stop === undefined ? '' : doc.slice(stop + 1));
    } else doc = `${doc.trimEnd()}\n\n${section}`;
  }
  writeFileSync(file, doc);
}

async function main(): Promise<void> {
  const seconds = arg('--duration', 10);
  const connections = arg('--connections', 50);
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  const [backendPort, nginxPort, weftPort, outPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const backend = startNginx(
    dir,
    'backend',
    `  server { listen 127.0.0.1:${backendPort}; location / { return 200 "hello world\\n"; } }`,
  );
  const proxy = startNginx(
    dir,
    'proxy',
    `  upstream b { server 127.0.0.1:${backendPort}; keepalive 128; }\n  server { listen 127.0.0.1:${nginxPort}; location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
  );
  const children: ChildProcess[] = [backend, proxy];
  try {
    await waitPort(backendPort);
    await waitPort(nginxPort);
    const weft = await spawnWeft(weftPort, backendPort);
    children.push(weft);
    // Two hops, as in the mesh: client sidecar (outbound) → server sidecar (inbound) → app.
    const weftOut = await spawnWeft(outPort, weftPort);
    children.push(weftOut);
    const rows: Row[] = [];
    rows.push(await measure('direct', `http://127.0.0.1:${backendPort}/`, [], seconds, connections));
    rows.push(
      await measure(
        'nginx reverse proxy (keepalive upstream)',
        `http://127.0.0.1:${nginxPort}/`,
        [nginxWorker(proxy)],
        seconds,
        connections,
      ),
    );
    rows.push(
      await measure(
        'weft proxy (one hop)',
        `http://127.0.0.1:${weftPort}/`,
        [weft.pid!],
        seconds,
        connections,
      ),
    );
    rows.push(
      await measure(
        'weft proxy, two hops (sidecar → sidecar)',
        `http://127.0.0.1:${outPort}/`,
        [weftOut.pid!, weft.pid!],
        seconds,
        connections,
      ),
    );
    console.log('| path | req/s | p50 | p99 | proxy CPU µs/rq | errors |');
    for (const r of rows)
      console.log(`| ${r.path} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.cpuUsPerRq} | ${r.errors} |`);
    writeDoc(rows, seconds, connections);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

// `--serve PORT BACKEND [ROUTE_TIMEOUT_S]`: the proxy process the benchmarks start.
if (process.argv[2] === '--serve')
  await serve(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5] ?? 0));
else await main();
