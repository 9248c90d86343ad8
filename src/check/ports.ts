// Reports whether weft's well-known ports are free on this host, and which process listens on those that are not.
import { readdir, readFile, readlink } from 'node:fs/promises';
import net from 'node:net';
import type { CheckConfig, CheckResult } from './types.ts';

/** What holds a port: a process we could identify, or nothing we may see. */
export type PortState =
  | { state: 'free' }
  | { state: 'in-use'; owner?: { pid: number; command: string } }
  | { state: 'unavailable'; reason: string };

/** Tries to bind the port on every interface; releases it at once. */
function tryBind(port: number): Promise<'bound' | string> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve('bound')));
  });
}

/** Socket inodes listening on `port` (Linux /proc/net/tcp{,6}; state 0A is LISTEN). */
async function listeningInodes(port: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length > 9 && fields[1].endsWith(`:${hexPort}`) && fields[3] === '0A') inodes.add(fields[9]);
    }
  }
  return inodes;
}

/** `node /path/bin/weft.js proxy --service x` → `weft proxy --service x`; other commands as they are. */
function commandLine(argv: string[]): string {
  const weft = argv.findIndex((a) => /(^|\/)weft(\.js)?$/.test(a));
  const shown = weft >= 0 ? ['weft', ...argv.slice(weft + 1)] : argv;
  const text = shown.join(' ');
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}

/** The process holding one of `inodes` open, if this user may see it. */
async function ownerOf(inodes: Set<string>): Promise<{ pid: number; command: string } | undefined> {
  if (inodes.size === 0) return undefined;
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((d) => /^\d+$/.test(d));
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode)) {
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        return { pid: Number(pid), command: commandLine(cmdline.split('\0').filter(Boolean)) };
      }
    }
  }
  return undefined;
}

export async function portState(port: number): Promise<PortState> {
  const bind = await tryBind(port);
  if (bind === 'bound') return { state: 'free' };
  if (bind !== 'EADDRINUSE') return { state: 'unavailable', reason: bind };
  return { state: 'in-use', owner: await ownerOf(await listeningInodes(port)) };
}

/** One informational line per port; these never fail the check. */
export async function checkPorts(config: CheckConfig): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const { port, role } of config.ports) {
    const s = await portState(port);
    const name = `port ${port} (${role})`;
    if (s.state === 'free') results.push({ name, outcome: 'info', detail: 'free' });
    else if (s.state === 'unavailable')
      results.push({ name, outcome: 'info', detail: `cannot be bound by this user (${s.reason})` });
    else
      results.push({
        name,
        outcome: 'info',
        detail: s.owner
          ? `in use by pid ${s.owner.pid}: ${s.owner.command}`
          : 'in use (by a process this user cannot see)',
      });
  }
  return results;
}
