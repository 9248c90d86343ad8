// Benchmark: the cost of telemetry on one hop — Istio metrics (on by default), access logs, tracing at 1 % and 100 % — as ratios against the same proxy without it, same run.
//
// Run: `node bench/telemetry.ts [--duration 8] [--connections 50] [--rounds 3]` (needs `wrk` and
// `nginx`: `apt-get install -y wrk nginx-light`). Each variant is its own proxy process (a
// ProxyCore routing every request to one nginx backend); they are measured in turns, round after
// round, so a noisy moment falls on every variant alike. Writes docs/benchmarks.md "Telemetry".
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpConnectionManager } from '../src/proxy/http/connection-manager.ts';
import { StreamTelemetry } from '../src/proxy/http/telemetry/stream-telemetry.ts';
import { ProxyCore } from '../src/proxy/proxy.ts';
import { CONFIG_TYPE, TYPE_URL } from '../src/xds/type-urls.ts';

const VARIANTS = [
  'no telemetry',
  'metrics (default)',
  'metrics + access log',
  'metrics + tracing 1 %',
  'metrics + tracing 100 %',
];

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

/** The HCM of a variant: the same route, plus an access log or tracing. */
function hcm(variant: number, logFile: string, collector: number): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  if (variant === 2)
    extra.accessLog = [
      {
        name: 'envoy.access_loggers.file',
        typedConfig: { '@type': CONFIG_TYPE.fileAccessLog, path: logFile },
      },
    ];
  if (variant >= 3)
    extra.tracing = {
      randomSampling: { value: variant === 3 ? 1 : 100 },
      provider: {
        name: 'envoy.tracers.opentelemetry',
        typedConfig: {
          '@type': CONFIG_TYPE.openTelemetryTracer,
          httpService: { httpUri: { uri: `http://127.0.0.1:${collector}/v1/traces`, cluster: 'collector' } },
          serviceName: 'bench',
        },
      },
    };
  return {
    '@type': CONFIG_TYPE.httpConnectionManager,
    statPrefix: 'bench',
    codecType: 'AUTO',
    routeConfig: {
      name: 'bench',
      virtualHosts: [
        { name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] },
      ],
    },
    httpFilters: [{ name: 'router', typedConfig: { '@type': CONFIG_TYPE.router } }],
    ...extra,
  };
}

/** A proxy process of one variant ("serve" mode of this script). */
async function serve(
  variant: number,
  port: number,
  backend: number,
  logFile: string,
  collector: number,
): Promise<void> {
  if (variant === 0) {
    // The same proxy with Istio's telemetry hook left out (other hooks stay).
    const add = HttpConnectionManager.prototype.addHooks;
    HttpConnectionManager.prototype.addHooks = function (hooks) {
      if (!(hooks instanceof StreamTelemetry)) add.call(this, hooks);
    };
  }
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
    filterChains: [{ filters: [{ name: 'hcm', typedConfig: hcm(variant, logFile, collector) }] }],
  };
  await core.apply(TYPE_URL.cluster, [{ name: 'backend', body: cluster }], '1', true);
  await core.apply(TYPE_URL.listener, [{ name: 'bench', body: listener }], '1', true);
  process.stdout.write('ready\n');
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function wrk(url: string, seconds: number, connections: number): { requests: number; errors: number } {
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, url], { encoding: 'utf8' });
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0), errors: non2xx };
}

function spawnProxy(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, WEFT_LOG_LEVEL: 'warn' },
  });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`bench proxy exited ${code}`)));
  });
}

/** A collector that accepts every export (its cost is not the proxy's). */
function startCollector(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end());
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

async function main(): Promise<void> {
  const seconds = arg('--duration', 8);
  const connections = arg('--connections', 50);
  const rounds = arg('--rounds', 3);
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-telemetry-'));
  const backend = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;\ndaemon off;\nerror_log ${join(dir, 'nginx.err')};\npid ${join(dir, 'nginx.pid')};\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  server { listen 127.0.0.1:${backend}; location / { return 200 "${'x'.repeat(1024)}"; } }\n}\n`,
  );
  const nginx = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
  const collector = await startCollector();
  const collectorPort = (collector.address() as net.AddressInfo).port;
  const proxies: { port: number; child: ChildProcess }[] = [];
  try {
    await new Promise((r) => setTimeout(r, 500));
    for (let v = 0; v < VARIANTS.length; v++) {
      const port = await freePort();
      const child = await spawnProxy([
        String(v),
        String(port),
        String(backend),
        join(dir, 'access.log'),
        String(collectorPort),
      ]);
      proxies.push({ port, child });
    }
    const totals = VARIANTS.map(() => ({ requests: 0, seconds: 0, cpu: 0, errors: 0 }));
    for (let round = 0; round < rounds; round++)
      for (let v = 0; v < VARIANTS.length; v++) {
        const { port, child } = proxies[v];
        const url = `http://127.0.0.1:${port}/`;
        wrk(url, 1, connections);
        const before = cpuTicks(child.pid!);
        const r = wrk(url, seconds, connections);
        totals[v].cpu += (cpuTicks(child.pid!) - before) / 100;
        totals[v].requests += r.requests;
        totals[v].seconds += seconds;
        totals[v].errors += r.errors;
      }
    const base = totals[0];
    const baseRps = base.requests / base.seconds;
    const baseCpu = (base.cpu * 1e6) / base.requests;
    const rows = totals.map((t, v) => {
      const rps = t.requests / t.seconds;
      const cpu = (t.cpu * 1e6) / t.requests;
      return `| ${VARIANTS[v]} | ${Math.round(rps).toLocaleString('en')} | ${(rps / baseRps).toFixed(3)} | ${cpu.toFixed(1)} | ${(cpu / baseCpu).toFixed(3)} | ${t.errors} |`;
    });
    const table = [
      '| variant | req/s | req/s vs none | proxy CPU µs / req | CPU vs none | errors |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
    ].join('\n');
    console.log(table);
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    writeDoc(
      `${table}\n\nLoad average at the end of the run: ${load} (2 cores, shared). The CPU per request of the proxy is the steadier figure on a busy machine; req/s moves with the machine.`,
      seconds,
      connections,
      rounds,
    );
  } finally {
    for (const p of proxies) p.child.kill('SIGKILL');
    nginx.kill('SIGTERM');
    collector.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeDoc(table: string, seconds: number, connections: number, rounds: number): void {
  const file = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
  const start = '<!-- bench:telemetry:start -->';
  const end = '<!-- bench:telemetry:end -->';
  const section = `${start}
## Telemetry

The cost of telemetry on one hop (\`node bench/telemetry.ts\`): one weft proxy routing every request
to nginx (1 KiB responses), \`wrk -t1 -c${connections}\`, ${rounds} rounds of ${seconds} s per variant
measured in turns. "no telemetry" is the same proxy with Istio's telemetry hook left out; the
others are what a user gets: metrics always, plus an access log (Istio's default TEXT format to a
file) or tracing to an OTLP collector at 1 % and 100 % sampling.

${table}
${end}`;
  const doc = readFileSync(file, 'utf8');
  const at = doc.indexOf(start);
  const next =
    at < 0
      ? `${doc.trimEnd()}\n\n${section}\n`
      : doc.slice(0, at) + section + doc.slice(doc.indexOf(end) + end.length);
  writeFileSync(file, next);
}

if (process.argv[2] === '--serve') {
  const [variant, port, backend, logFile, collector] = process.argv.slice(3);
  await serve(Number(variant), Number(port), Number(backend), logFile, Number(collector));
} else await main();
