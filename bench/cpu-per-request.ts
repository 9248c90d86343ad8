// Benchmark: weft proxy CPU µs and young-generation GCs per HTTP/1.1 request, one hop and two hops, A/B across source trees.
//
// Run: `node bench/cpu-per-request.ts [--duration 8] [--runs 2] [--roots /work/main,/tmp/weft-base]`
// (needs `wrk`, `nginx` and coreutils' `stdbuf`; `--route-timeout S` gives the route a timeout). Each root is a checkout of weft (its own `bench/proxy-http1.ts --serve`
// is started, so an older commit in a `git worktree` can be compared with the working tree);
// roots are measured alternately (A, B, A, B) so that what the neighbours do hits both alike.
// The proxies run with the V8 flags and environment each root's `weft proxy` adds (its bin/sidecar-flags.js) and `--trace-gc`; the figures
// are the proxy processes' utime+stime from /proc per request and their scavenges per 10k
// requests, which depend on the machine's load far less than req/s does. `--cpu-prof DIR` writes a
// V8 CPU profile of every proxy (on exit) into DIR, `--alloc-prof DIR` a sampled allocation profile
// (lib/alloc-sampler.ts: collected objects included). Nothing is written to docs/.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './lib/ports.ts';
import { sidecarSettings } from './lib/sidecar-settings.ts';

/** Options of one run of this script. */
interface Options {
  /** Seconds of each measured wrk run (after a 2 s warm-up). */
  duration: number;
  /** How many times each root is measured (alternating). */
  runs: number;
  /** Checkouts of weft to compare. */
  roots: string[];
  /** Directory for `--cpu-prof` output; empty: no profiling. */
  cpuProf: string;
  /** Directory for allocation profiles (lib/alloc-sampler.ts); empty: none. */
  allocProf: string;
  /** wrk connections. */
  connections: number;
  /** Route timeout in seconds (0: none, as the mesh's routes have by default). */
  routeTimeout: number;
  /** Paths to measure. */
  paths: PathName[];
}

type PathName = 'nginx' | 'one-hop' | 'two-hop';

/** A proxy process and the scavenges its `--trace-gc` output has shown so far. */
interface Proxy {
  child: ChildProcess;
  scavenges: number;
  markSweeps: number;
}

const BODY = `${'x'.repeat(1023)}\n`;

function options(): Options {
  const argv = process.argv;
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i > 0 ? argv[i + 1] : undefined;
  };
  const here = fileURLToPath(new URL('..', import.meta.url));
  return {
    duration: Number(value('--duration') ?? 8),
    runs: Number(value('--runs') ?? 2),
    roots: (value('--roots') ?? here).split(',').map((r) => resolve(r)),
    cpuProf: value('--cpu-prof') ?? '',
    allocProf: value('--alloc-prof') ?? '',
    connections: Number(value('--connections') ?? 50),
    routeTimeout: Number(value('--route-timeout') ?? 0),
    paths: (value('--paths') ?? 'nginx,one-hop,two-hop').split(',') as PathName[],
  };
}

/** utime and stime of a process, in clock ticks (USER_HZ, 100 on Linux). */
function cpuTicks(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]), sys: Number(fields[12]) };
}

/** nginx with one worker: `server` is the body of its http block. */
function startNginx(dir: string, name: string, server: string): ChildProcess {
  const conf = join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    `worker_processes 1;\ndaemon off;\nerror_log ${join(dir, `${name}.err`)};\npid ${join(dir, `${name}.pid`)};\n` +
      `events { worker_connections 4096; }\nhttp {\n  access_log off;\n  keepalive_requests 100000000;\n${server}\n}\n`,
  );
  return spawn('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' });
}

function backendServer(port: number): string {
  return `  server { listen 127.0.0.1:${port}; location / { default_type text/plain; return 200 "${BODY.replace('\n', '\\n')}"; } }`;
}

/** The reference: nginx as a reverse proxy with upstream keep-alive, as bench/http1.ts runs it. */
function proxyServer(port: number, backend: number): string {
  return (
    `  upstream b { server 127.0.0.1:${backend}; keepalive 128; keepalive_requests 100000000; }\n` +
    `  server { listen 127.0.0.1:${port}; location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; } }`
  );
}

/** Pid of an nginx master's single worker (the process doing the work). */
async function nginxWorker(master: ChildProcess): Promise<number> {
  const { stdout } = await promisify(execFile)('pgrep', ['-P', String(master.pid)], { encoding: 'utf8' });
  return Number(stdout.trim().split('\n')[0]);
}

async function startProxy(
  root: string,
  port: number,
  backend: number,
  o: Options,
  tag: string,
): Promise<Proxy> {
  // The V8 flags and environment this root's `weft proxy` runs with (its bin/sidecar-flags.js), and --trace-gc.
  const settings = await sidecarSettings(root);
  const flags = [...settings.flags, '--trace-gc'];
  if (o.cpuProf !== '')
    flags.push('--cpu-prof', `--cpu-prof-dir=${o.cpuProf}`, `--cpu-prof-name=${tag}.cpuprofile`);
  const env: NodeJS.ProcessEnv = { ...process.env, ...settings.env, WEFT_LOG_LEVEL: 'warn' };
  if (o.allocProf !== '') {
    flags.push('--import', fileURLToPath(new URL('lib/alloc-sampler.ts', import.meta.url)));
    env.WEFT_ALLOC_PROF = join(o.allocProf, `${tag}.heapprofile`);
  }
  // V8 prints --trace-gc lines with stdio, fully buffered into a pipe: stdbuf makes them line-buffered
  // (it execs node, so the pid is the proxy's).
  const child = spawn(
    'stdbuf',
    [
      '-oL',
      process.execPath,
      ...flags,
      join(root, 'bench/proxy-http1.ts'),
      '--serve',
      String(port),
      String(backend),
      String(o.routeTimeout),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env, cwd: root },
  );
  const proxy: Proxy = { child, scavenges: 0, markSweeps: 0 };
  return new Promise((ready, reject) => {
    let text = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      text += d;
      let nl = text.indexOf('\n');
      while (nl >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        if (line === 'ready') ready(proxy);
        else if (line.includes('Scavenge')) proxy.scavenges++;
        else if (line.includes('Mark-Compact') || line.includes('Mark-sweep')) proxy.markSweeps++;
        nl = text.indexOf('\n');
      }
    });
    child.once('exit', (code) => reject(new Error(`proxy under ${root} exited ${code}`)));
  });
}

/** Runs wrk without blocking this process's event loop (the proxies' GC lines are read meanwhile). */
async function wrk(
  url: string,
  seconds: number,
  connections: number,
): Promise<{ requests: number; rps: number; errors: number }> {
  const { stdout: out } = await promisify(execFile)(
    'wrk',
    ['-t1', `-c${connections}`, `-d${seconds}s`, url],
    {
      encoding: 'utf8',
    },
  );
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return { requests, rps, errors: non2xx + (sock ? sock.slice(1).reduce((s, x) => s + Number(x), 0) : 0) };
}

async function waitPort(port: number): Promise<void> {
  const net = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((done) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        done(true);
      });
      s.on('error', () => done(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open`);
}

/** Measures one path: µs of proxy CPU per request and scavenges per 10k requests. */
async function measure(url: string, proxies: Proxy[], o: Options): Promise<string> {
  return measurePids(
    url,
    proxies.map((p) => p.child.pid!),
    () => proxies.reduce((s, p) => s + p.scavenges, 0),
    o,
  );
}

async function measurePids(
  url: string,
  pids: number[],
  scavenges: () => number,
  o: Options,
): Promise<string> {
  await wrk(url, 2, o.connections);
  const ticks0 = pids.map(cpuTicks);
  const gc0 = scavenges();
  const r = await wrk(url, o.duration, o.connections);
  // Let the last GC lines written during the run arrive.
  await new Promise((r) => setTimeout(r, 100));
  const ticks1 = pids.map(cpuTicks);
  const user = ticks1.reduce((s, t, i) => s + t.user - ticks0[i].user, 0);
  const ticks = user + ticks1.reduce((s, t, i) => s + t.sys - ticks0[i].sys, 0);
  const scav = scavenges() - gc0;
  const us = ((ticks / 100) * 1e6) / Math.max(1, r.requests);
  const per10k = (scav * 1e4) / Math.max(1, r.requests);
  const userUs = ((user / 100) * 1e6) / Math.max(1, r.requests);
  return `${us.toFixed(1)} µs/rq (user ${userUs.toFixed(1)}) | ${per10k.toFixed(2)} scavenges/10k | ${Math.round(r.rps)} req/s | ${r.errors} errors`;
}

async function main(): Promise<void> {
  const o = options();
  const dir = mkdtempSync(join(tmpdir(), 'weft-cpu-'));
  for (const d of [o.cpuProf, o.allocProf]) if (d !== '') mkdirSync(d, { recursive: true });
  const backendPort = await freePort();
  const backend = startNginx(dir, 'backend', backendServer(backendPort));
  const children: ChildProcess[] = [backend];
  try {
    await waitPort(backendPort);
    let nginx: { port: number; worker: number } | undefined;
    if (o.paths.includes('nginx')) {
      const port = await freePort();
      const master = startNginx(dir, 'proxy', proxyServer(port, backendPort));
      children.push(master);
      await waitPort(port);
      nginx = { port, worker: await nginxWorker(master) };
    }
    for (let run = 0; run < o.runs; run++) {
      if (nginx)
        console.log(
          `run ${run} nginx reverse proxy: ${await measurePids(`http://127.0.0.1:${nginx.port}/`, [nginx.worker], () => 0, o)}`,
        );
      for (const [ri, root] of o.roots.entries()) {
        const label = o.roots.length > 1 ? `${String.fromCharCode(65 + ri)} (${root})` : root;
        const [inner, outer] = [await freePort(), await freePort()];
        const tag = `r${run}-${String.fromCharCode(65 + ri)}`;
        const hop = await startProxy(root, inner, backendPort, o, `${tag}-inner`);
        children.push(hop.child);
        let front: Proxy | undefined;
        if (o.paths.includes('two-hop')) {
          front = await startProxy(root, outer, inner, o, `${tag}-outer`);
          children.push(front.child);
        }
        if (o.paths.includes('one-hop'))
          console.log(
            `run ${run} ${label} one-hop: ${await measure(`http://127.0.0.1:${inner}/`, [hop], o)}`,
          );
        if (front)
          console.log(
            `run ${run} ${label} two-hop: ${await measure(`http://127.0.0.1:${outer}/`, [front, hop], o)}`,
          );
        for (const p of [hop, front]) {
          if (!p) continue;
          const exited = new Promise((r) => p.child.once('exit', r));
          p.child.kill('SIGINT');
          await exited;
        }
      }
    }
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
