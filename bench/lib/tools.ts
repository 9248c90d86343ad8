// The external tools the benchmarks drive (wrk, nginx, HAProxy, h2load): found, explained when missing, installed on request.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A tool the harness runs, and the Debian package that provides it. */
export interface ToolInfo {
  bin: 'wrk' | 'nginx' | 'haproxy' | 'h2load';
  /** Debian package. */
  pkg: string;
  /** What it is for, in one phrase. */
  role: string;
}

export type ToolName = ToolInfo['bin'];

export const TOOLS: readonly ToolInfo[] = [
  { bin: 'nginx', pkg: 'nginx-light', role: 'backend and reference reverse proxy' },
  { bin: 'haproxy', pkg: 'haproxy', role: 'reference proxy' },
  { bin: 'wrk', pkg: 'wrk', role: 'closed-loop HTTP/1.1 load' },
  { bin: 'h2load', pkg: 'nghttp2-client', role: 'gRPC unary load' },
];

/** The install line for every tool the harness may use (printed when any is missing). */
export const INSTALL_ALL = `apt-get install -y ${TOOLS.map((t) => t.pkg).join(' ')}`;

/** Where each tool was found (absolute path), or undefined. */
export type ToolPaths = Record<ToolName, string | undefined>;

/** Looks for a binary on PATH and in the sbin directories (nginx and HAProxy live there). */
export function which(bin: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const file = join(dir, bin);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function findTools(): ToolPaths {
  const paths = {} as ToolPaths;
  for (const t of TOOLS) paths[t.bin] = which(t.bin);
  return paths;
}

/** The packages missing for `needed`, and a message that says exactly what to do. */
export function missingTools(
  paths: ToolPaths,
  needed: readonly ToolName[],
): { pkgs: string[]; message: string } {
  const missing = TOOLS.filter((t) => needed.includes(t.bin) && !paths[t.bin]);
  if (missing.length === 0) return { pkgs: [], message: '' };
  const lines = missing.map((t) => `  ${t.bin} (${t.role}): Debian package ${t.pkg}`);
  const message = [
    'The selected benchmarks need tools that are not installed:',
    ...lines,
    `Install them with:  sudo apt-get install -y ${missing.map((t) => t.pkg).join(' ')}`,
    `(all tools the harness can use: sudo ${INSTALL_ALL})`,
    'or, as root, rerun with --install to let the harness install them.',
  ].join('\n');
  return { pkgs: missing.map((t) => t.pkg), message };
}

/** Installs Debian packages with apt-get (root only). Returns an error message, or undefined on success. */
export function installPackages(pkgs: readonly string[]): string | undefined {
  if (process.getuid?.() !== 0) return '--install needs root (apt-get); run the printed command yourself';
  for (const args of [['update'], ['install', '-y', ...pkgs]]) {
    process.stderr.write(`$ apt-get ${args.join(' ')}\n`);
    const result = spawnSync('apt-get', args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (result.status !== 0) return `apt-get ${args[0]} failed (exit ${result.status ?? result.signal})`;
  }
  return undefined;
}

function firstLine(bin: string | undefined, args: string[], pattern: RegExp): string {
  if (!bin) return 'not installed';
  const result = spawnSync(bin, args, { encoding: 'utf8' });
  const text = `${result.stdout ?? ''}\n${result.stderr ?? ''}`;
  return pattern.exec(text)?.[1] ?? 'unknown';
}

/** Version strings of the tools, for the document's header. */
export function toolVersions(paths: ToolPaths): Record<ToolName, string> {
  return {
    nginx: firstLine(paths.nginx, ['-v'], /nginx version: nginx\/(\S+)/),
    haproxy: firstLine(paths.haproxy, ['-v'], /HA-?Proxy version (\S+)/),
    wrk: firstLine(paths.wrk, ['-v'], /wrk (\S+)/),
    h2load: firstLine(paths.h2load, ['--version'], /h2load nghttp2\/(\S+)/),
  };
}
