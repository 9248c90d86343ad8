// Test helper: "hosts" as Linux network namespaces on a bridge in a "switch" namespace; the root namespace is never touched.
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Every namespace of a run is named `weft-hosts-<pid>-...`: a crashed run's are found and removed by the next. */
const PREFIX = 'weft-hosts-';
/** The subnet on the test's own bridge; it exists only inside the namespaces created here. */
const SUBNET = '10.213.0';
/** The same for IPv6 (a unique local prefix). */
const SUBNET6 = 'fd00:213:';

export interface Host {
  /** The network namespace's name. */
  ns: string;
  /** Its address on the bridge, e.g. `10.213.0.2`. */
  address: string;
  /** Its IPv6 address on the bridge, e.g. `fd00:213::2`. */
  address6: string;
}

export interface Hosts {
  hosts: Host[];
  /** Spawns `command args` inside the host's namespace (the caller stops it; `remove()` kills what is left). */
  spawn(host: Host, command: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcessWithoutNullStreams;
  /** Runs a command inside the host's namespace to its end (killed after `timeoutMs`). */
  exec(
    host: Host,
    command: string,
    args: string[],
    options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string },
  ): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Kills every process left in the namespaces and deletes them (their links go with them). */
  remove(): Promise<void>;
}

async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args, { timeout: 10_000 })).stdout;
}

/** Kills what still runs in `ns` (only processes of the namespaces this helper created) and deletes it. */
async function removeNamespace(ns: string): Promise<void> {
  const pids = await ip('netns', 'pids', ns).catch(() => '');
  for (const pid of pids.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {}
  }
  await ip('netns', 'del', ns).catch(() => {});
  await rm(etcDir(ns), { recursive: true, force: true });
}

/** `ip netns exec NS` bind-mounts the files of this directory over `/etc` (e.g. a hosts file of the test's own). */
function etcDir(ns: string): string {
  return `/etc/netns/${ns}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Namespaces left by an earlier run that died before its clean-up (its pid is gone). */
async function removeStale(): Promise<void> {
  const list = await ip('netns', 'list').catch(() => '');
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (m && !alive(Number(m[1]))) await removeNamespace(name);
  }
}

/** Options of `createHosts`. */
export interface HostsOptions {
  /** The `/etc/hosts` every process spawned in a host sees (names the test controls), instead of the machine's. */
  etcHosts?: string;
}

/**
 * Creates `count` hosts `10.213.0.1..count` (and `fd00:213::1..count`) joined by a bridge, or returns why the kernel refused
 * (no network namespaces: not root, or a sandbox without them), for `t.skip`.
 */
export async function createHosts(
  count: number,
  options: HostsOptions = {},
): Promise<Hosts | { refused: string }> {
  await removeStale();
  const base = `${PREFIX}${process.pid}-${Date.now().toString(36)}`;
  const sw = `${base}-sw`;
  const created: string[] = [];
  const remove = async () => {
    for (const ns of created.reverse()) await removeNamespace(ns);
  };
  try {
    await ip('netns', 'add', sw);
  } catch (err) {
    return {
      refused: `the kernel refused a network namespace (ip netns add): ${(err as Error).message.trim()}`,
    };
  }
  created.push(sw);
  const hosts: Host[] = [];
  try {
    await ip('-n', sw, 'link', 'set', 'lo', 'up');
    await ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', sw, 'link', 'set', 'br0', 'up');
    for (let i = 1; i <= count; i++) {
      const host = { ns: `${base}-h${i}`, address: `${SUBNET}.${i}`, address6: `${SUBNET6}:${i}` };
      await ip('netns', 'add', host.ns);
      created.push(host.ns);
      await ip('-n', sw, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns);
      await ip('-n', sw, 'link', 'set', `p${i}`, 'master', 'br0', 'up');
      await ip('-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0');
      // nodad: usable at once, not after duplicate address detection.
      await ip('-n', host.ns, 'addr', 'add', `${host.address6}/64`, 'dev', 'eth0', 'nodad');
      await ip('-n', host.ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', host.ns, 'link', 'set', 'lo', 'up');
      if (options.etcHosts !== undefined) {
        await mkdir(etcDir(host.ns), { recursive: true });
        await writeFile(`${etcDir(host.ns)}/hosts`, options.etcHosts);
      }
      hosts.push(host);
    }
  } catch (err) {
    await remove();
    throw err;
  }
  const spawnIn = (host: Host, command: string, args: string[], env?: NodeJS.ProcessEnv) =>
    spawn('ip', ['netns', 'exec', host.ns, command, ...args], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  return {
    hosts,
    spawn: spawnIn,
    exec(host, command, args, options = {}) {
      return new Promise((resolve, reject) => {
        const child = spawnIn(host, command, args, options.env);
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
        child.stdin.on('error', () => {});
        child.stdin.end(options.input ?? '');
      });
    },
    remove,
  };
}
