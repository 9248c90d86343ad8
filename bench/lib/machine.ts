// The machine and software a run measured on: CPU, cores, memory, load, versions, weft's commit.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

/** Facts about the machine at the start of a run. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  /** 1, 5 and 15 minute load averages. */
  load: [number, number, number];
  kernel: string;
}

export function machineInfo(): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const memKb = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0);
  const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const [a, b, c] = loadavg();
  return { cpuModel: model.trim(), cores: cpus().length, memoryBytes: memKb * 1024, load: [a, b, c], kernel };
}

/** The 1-minute load average now. */
export function loadNow(): number {
  return loadavg()[0];
}

/**
 * Other processes using more than this many cores on average while a run measured (see
 * procfs.othersCores) mark it as noisy in the document.
 */
export const BUSY_OTHERS_CORES = 0.25;

/** weft's commit, with "+ uncommitted changes" when the working tree differs from it. */
export function weftCommit(repo: string): string {
  const head = spawnSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) return 'unknown (not a git checkout)';
  const dirty = spawnSync('git', ['-C', repo, 'status', '--porcelain', '--', 'src', 'bin'], {
    encoding: 'utf8',
  });
  return `${head.stdout.trim()}${dirty.stdout.trim() === '' ? '' : ' + uncommitted changes in src/'}`;
}
