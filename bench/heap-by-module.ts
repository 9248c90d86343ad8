// Benchmark tool: what an idle `weft proxy` sidecar's V8 heap holds, by source module (a heap snapshot of a real mTLS sidecar).
//
// Run: `node bench/heap-by-module.ts [--root /work/main] [--requests 20] [--settle 12] [--depth 3] [--top 25]`.
// One control plane with STRICT mTLS and a server sidecar (in front of a 1 KiB HTTP backend in this process), then a
// client sidecar from ROOT's bin/weft.js: it answers --requests requests, idles --settle seconds (its idle release has
// run), and writes a heap snapshot (`--heapsnapshot-signal`). Each closure of the snapshot, with its function info,
// scope info, bytecode and feedback, is counted against the source file its code comes from (through the bundle's
// source map when the sidecar runs from its bundle), grouped by the first --depth path segments; then the --top
// largest single objects with the path that first reaches them. Writes nothing to docs/.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { SourceMap } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext } from './lib/context.ts';
import { HeapGraph } from './lib/heap-graph.ts';
import { probeHttp } from './lib/http-probe.ts';
import { freePort } from './lib/ports.ts';
import { applyYaml, STRICT_MTLS_YAML, startControlPlane, startProxy, waitUntil } from './lib/weft.ts';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
const kb = (bytes: number) => (bytes / 1e3).toFixed(0).padStart(6);
const BODY = Buffer.alloc(1024, 'x');

/** Writes a heap snapshot of an idle client sidecar of `root` into `dir` and returns its path. */
async function snapshotIdleSidecar(
  root: string,
  dir: string,
  requests: number,
  settleS: number,
): Promise<string> {
  const ctx = {
    node: process.execPath,
    tmp: dir,
    log: (m: string) => process.stderr.write(`${m}\n`),
  } as unknown as BenchContext;
  const backend = createServer((_req, res) => res.end(BODY));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const cp = await startControlPlane(ctx);
  try {
    await applyYaml(ctx, cp, 'peer-authentication', STRICT_MTLS_YAML);
    const appPort = (backend.address() as AddressInfo).port;
    const server = await startProxy(ctx, cp, { service: 'heap-server', appPort });
    const snapshots = join(dir, 'snapshots');
    mkdirSync(snapshots);
    const client = await startProxy(ctx, cp, {
      service: 'heap-client',
      appPort: await freePort(),
      bin: join(root, 'bin', 'weft.js'),
      nodeArgs: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshots}`],
    });
    try {
      const works = await waitUntil(
        () => probeHttp(client.ports.outbound, 'heap-server', BODY.length),
        30_000,
      );
      if (works.outcome === 'timed-out')
        throw new Error(`no answer through the client sidecar: ${works.last}`);
      for (let i = 1; i < requests; i++) await probeHttp(client.ports.outbound, 'heap-server', BODY.length);
      await sleep(settleS);
      process.kill(client.child.pid, 'SIGUSR2');
      const written = await waitUntil(async () => {
        const names = readdirSync(snapshots, { withFileTypes: true }).filter((f) => f.isFile());
        return names.length > 0 && !names[0].name.endsWith('.tmp') ? 'ok' : 'not yet';
      }, 60_000);
      if (written.outcome === 'timed-out') throw new Error('the sidecar wrote no heap snapshot within 60 s');
      await sleep(2);
      return join(snapshots, readdirSync(snapshots)[0]);
    } finally {
      await client.child.stop();
      await server.child.stop();
    }
  } finally {
    await cp.child.stop();
    backend.close();
  }
}

/** The source file (relative to `root`) or Node module that a closure's code comes from. */
function sourceNamer(root: string): (script: string, line: number, column: number) => string {
  const maps = new Map<string, SourceMap | undefined>();
  const relative = (path: string) => (path.startsWith(root) ? path.slice(root.length + 1) : path);
  return (script, line, column) => {
    if (script.startsWith('node:') || !script.includes('/')) return `node:${script.replace(/^node:/, '')}`;
    const path = script.startsWith('file:') ? fileURLToPath(script) : script;
    if (!path.endsWith('.cjs')) return relative(path);
    if (!maps.has(path)) {
      try {
        maps.set(path, new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8'))));
      } catch {
        maps.set(path, undefined);
      }
    }
    const entry = maps.get(path)?.findEntry(line, column);
    const source = entry && 'originalSource' in entry ? entry.originalSource : undefined;
    return source ? relative(resolve(join(path, '..'), source.replace(/^file:\/\//, ''))) : relative(path);
  };
}

async function main(): Promise<void> {
  const root = resolve(option('--root', resolve(import.meta.dirname, '..')));
  const depth = Number(option('--depth', '3'));
  const top = Number(option('--top', '25'));
  const dir = mkdtempSync(join(tmpdir(), 'weft-heap-by-module-'));
  try {
    const file = await snapshotIdleSidecar(
      root,
      dir,
      Number(option('--requests', '20')),
      Number(option('--settle', '12')),
    );
    const graph = new HeapGraph(JSON.parse(readFileSync(file, 'utf8')));
    const bySource = graph.closureCostBySource(sourceNamer(root));
    const groups = new Map<string, number>();
    for (const [source, bytes] of bySource) {
      const group = source.split('/').slice(0, depth).join('/');
      groups.set(group, (groups.get(group) ?? 0) + bytes);
    }
    const total = (prefix: (s: string) => boolean) =>
      [...bySource].filter(([s]) => prefix(s)).reduce((sum, [, b]) => sum + b, 0);
    console.log(`heap snapshot: ${kb(graph.totalSelfSize())} KB in all (self sizes)`);
    console.log(
      `closures with their function infos, scope infos, bytecode and feedback: weft's src/ ${kb(total((s) => s.startsWith('src/')))} KB, ` +
        `packages ${kb(total((s) => s.includes('node_modules/')))} KB, Node's own ${kb(total((s) => s.startsWith('node:')))} KB`,
    );
    for (const [group, bytes] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`${kb(bytes)} KB  ${group}`);
    console.log(`\nthe ${top} largest single objects (KB, what, the path that first reaches it):`);
    for (const line of graph.largestObjects(top)) console.log(line);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
