// `npm run bench`: runs the benchmarks, weft beside its references in the same run, and writes docs/benchmarks.md.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchmark as capture } from './capture.ts';
import { benchmark as grpc } from './grpc.ts';
import { benchmark as http1 } from './http1.ts';
import { type BenchContext, type Benchmark, FULL, QUICK, REPO } from './lib/context.ts';
import { writeSection } from './lib/doc.ts';
import { externalBenchmark } from './lib/external.ts';
import { BUSY_OTHERS_CORES, loadNow, type MachineInfo, machineInfo, weftCommit } from './lib/machine.ts';
import { installCleanup, stopAll } from './lib/processes.ts';
import { cpuSnapshot, othersCores } from './lib/procfs.ts';
import { markdownTable } from './lib/table.ts';
import {
  findTools,
  installPackages,
  missingTools,
  type ToolName,
  type ToolPaths,
  toolVersions,
} from './lib/tools.ts';
import { benchmark as memory } from './memory.ts';
import { benchmark as openLoop } from './open-loop.ts';
import { benchmark as tcp } from './tcp.ts';

const DEFAULT_DOC = join(REPO, 'docs', 'benchmarks.md');

const USAGE = `Usage: npm run bench -- [--only NAME,NAME] [--quick] [--install] [--out FILE] [--reference DIR]

Runs weft's benchmarks beside their references (nginx, HAProxy, a Node proxy, direct) and
writes each one's section of docs/benchmarks.md.

  --only NAMES  run only these (comma-separated); others keep their sections
  --quick       short durations: a smoke run to check that everything works
  --install     as root, apt-get install missing tools (nginx-light haproxy wrk nghttp2-client)
  --out FILE    write this file instead of docs/benchmarks.md
  --reference DIR  another checkout of weft (e.g. \`git worktree add DIR HEAD~1\` + npm ci): the HTTP/1.1,
                open-loop and gRPC benchmarks run its proxy beside this one's, as the no-regression reference
  --help        this text

Benchmarks: {BENCHMARKS}`;

function benchmarks(docFile: string): Benchmark[] {
  return [
    http1,
    openLoop,
    grpc,
    tcp,
    memory,
    capture,
    // The xDS part's script; it writes its own section of docs/benchmarks.md.
    externalBenchmark({
      name: 'xds-convergence',
      title: 'Control plane convergence',
      fullArgs: [],
      quickArgs: ['--clients', '100', '--changes', '2'],
      noWriteFlag: '--no-write',
      defaultDoc: docFile === DEFAULT_DOC,
      timeoutMs: 30 * 60_000,
    }),
  ];
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/** How busy the machine was with other work while each benchmark ran (cores used by other processes). */
interface Noise {
  /** Average over the whole run. */
  run: number;
  perBenchmark: { name: string; cores: number }[];
}

function environmentSection(
  m: MachineInfo,
  tools: ToolPaths,
  quick: boolean,
  names: string[],
  started: Date,
  noise: Noise | undefined,
): string {
  const v = toolVersions(tools);
  const worst = noise?.perBenchmark.reduce((a, b) => (b.cores > a.cores ? b : a), { name: '', cores: 0 });
  const rows = [
    ['date', started.toISOString()],
    [
      'run',
      `${quick ? '`--quick` smoke run (short durations: figures not for comparison)' : 'full'}; benchmarks: ${names.join(', ')}`,
    ],
    ['CPU', `${m.cpuModel}, ${m.cores} cores`],
    ['memory', gib(m.memoryBytes)],
    ['kernel', m.kernel],
    ['load average at start (1/5/15 min)', m.load.map((l) => l.toFixed(2)).join(' / ')],
    [
      'CPU used by other processes during the run',
      noise
        ? `${noise.run.toFixed(2)} of ${m.cores} cores on average${worst?.name ? `, most during ${worst.name} (${worst.cores.toFixed(2)})` : ''}`
        : 'run in progress',
    ],
    ['weft', weftCommit(REPO)],
    ['Node.js', process.version],
    ['nginx', v.nginx],
    ['HAProxy', v.haproxy],
    ['wrk', v.wrk],
    ['h2load', v.h2load],
  ];
  const busy = noise !== undefined && noise.run > BUSY_OTHERS_CORES;
  return `## Machine and versions (latest run)

${markdownTable(['', 'value'], rows, ['left', 'left'])}
${
  busy
    ? `\n**This run was on a shared ${m.cores}-core machine: other processes used ${noise.run.toFixed(2)} cores on average while it ran, so its figures are noisy.** Compare rows of the same section (measured minutes apart) rather than absolute values, and prefer the CPU-per-request figures, which depend less on the neighbours.\n`
    : ''
}
"CPU used by other processes" is the machine's busy CPU time (\`/proc/stat\`) minus the harness's own
and its children's: the load the figures were measured under. Each section below says when it was
measured and the same for its own duration; a partial run (\`--only\`) replaces only its own sections,
so sections may come from different runs.`;
}

/** The --reference checkout: it must have its bin/weft.js and its dependencies installed. */
function referenceCheckout(root: string): { root: string; commit: string } {
  if (!existsSync(join(root, 'bin', 'weft.js'))) fail(`--reference ${root}: no bin/weft.js there`);
  if (!existsSync(join(root, 'node_modules')))
    fail(`--reference ${root}: its dependencies are not installed (npm ci there)`);
  return { root, commit: weftCommit(root) };
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>;
  const OPTIONS = {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    install: { type: 'boolean', default: false },
    out: { type: 'string' },
    reference: { type: 'string' },
    help: { type: 'boolean', default: false },
  } as const;
  try {
    parsed = parseArgs({ options: OPTIONS, allowPositionals: false });
  } catch (err) {
    fail(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
  }
  const opts = parsed.values;
  const docFile = opts.out ? resolve(opts.out) : DEFAULT_DOC;
  const all = benchmarks(docFile);
  const usage = USAGE.replace('{BENCHMARKS}', all.map((b) => b.name).join(', '));
  if (opts.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const only = opts.only
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = only?.filter((n) => !all.some((b) => b.name === n)) ?? [];
  if (unknown.length > 0) fail(`unknown benchmark ${unknown.join(', ')}\n\n${usage}`);
  const selected = only ? all.filter((b) => only.includes(b.name)) : all;

  let tools = findTools();
  const needed = [...new Set(selected.flatMap((b) => b.tools))] as ToolName[];
  let missing = missingTools(tools, needed);
  if (missing.pkgs.length > 0 && opts.install) {
    const error = installPackages(missing.pkgs);
    if (error) fail(`${missing.message}\n\n${error}`);
    tools = findTools();
    missing = missingTools(tools, needed);
  }
  if (missing.pkgs.length > 0) fail(missing.message);

  const tmp = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  const removeTmp = async () => rmSync(tmp, { recursive: true, force: true });
  installCleanup(removeTmp);
  const machine = machineInfo();
  const started = new Date();
  const ctx: BenchContext = {
    quick: opts.quick,
    durations: opts.quick ? QUICK : FULL,
    tools,
    tmp,
    node: process.execPath,
    cores: machine.cores,
    reference: opts.reference ? referenceCheckout(resolve(opts.reference)) : undefined,
    log: (message) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`),
  };
  ctx.log(
    `${opts.quick ? 'quick smoke run' : 'full run'} of ${selected.map((b) => b.name).join(', ')}; load average ${machine.load[0].toFixed(2)}; writing ${docFile}`,
  );
  const names = selected.map((b) => b.name);
  writeSection(
    docFile,
    'environment',
    environmentSection(machine, tools, opts.quick, names, started, undefined),
  );
  const runStart = cpuSnapshot();
  const perBenchmark: Noise['perBenchmark'] = [];

  const failures: string[] = [];
  try {
    for (const b of selected) {
      const load = loadNow();
      const at = new Date();
      const before = cpuSnapshot();
      ctx.log(`${b.name}: start (load average ${load.toFixed(2)})`);
      let body: string | undefined;
      try {
        body = await b.run(ctx);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        failures.push(`${b.name}: ${message.split('\n')[0]}`);
        ctx.log(`${b.name} failed: ${message}`);
        await stopAll();
        if (b.external) continue;
        body = `This benchmark failed in the run of ${at.toISOString()}:\n\n\`\`\`\n${message}\n\`\`\``;
      }
      const others = othersCores(before, cpuSnapshot());
      perBenchmark.push({ name: b.name, cores: others });
      if (body === undefined) {
        ctx.log(`${b.name}: kept the section the script wrote`);
        continue;
      }
      const stamp = `_Measured ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC; load average ${load.toFixed(2)} at start; other processes used ${others.toFixed(2)} of ${machine.cores} cores on average meanwhile${
        opts.quick ? '; `--quick` smoke run: figures not for comparison' : ''
      }${others > BUSY_OTHERS_CORES ? '; **a loaded run**: rates are noisy, compare its rows and CPU columns' : ''}._`;
      const section = `## ${b.title}\n\n${stamp}\n\n${body.trim()}`;
      writeSection(docFile, b.name, section);
      process.stdout.write(`\n${section}\n`);
    }
  } finally {
    await stopAll();
    await removeTmp();
  }
  const noise: Noise = { run: othersCores(runStart, cpuSnapshot()), perBenchmark };
  writeSection(docFile, 'environment', environmentSection(machine, tools, opts.quick, names, started, noise));
  ctx.log(`other processes used ${noise.run.toFixed(2)} cores on average during the run`);
  if (failures.length > 0) {
    process.stderr.write(
      `\n${failures.length} benchmark(s) failed:\n${failures.map((f) => `  ${f}`).join('\n')}\n`,
    );
    process.exitCode = 1;
  }
}

await main();
