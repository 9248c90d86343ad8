// Shared by the mTLS and security e2e tests: a real control plane, sidecars, apply, metrics, openssl.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { request } from '../helpers/http-client.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds/;
const PROXY_READY =
  /weft proxy ready: .* inbound 0\.0\.0\.0:(\d+) outbound 127\.0\.0\.1:(\d+) admin 127\.0\.0\.1:(\d+)/;

export interface MeshSidecar {
  proc: WeftProcess;
  inbound: number;
  outbound: number;
  admin: number;
}

export interface Mesh {
  /** The control plane's API URL. */
  server: string;
  /** A temporary directory removed by `stop()`. */
  dir: string;
  /** `weft apply -f -` with this YAML; throws with the CLI's output when it fails. */
  apply(yaml: string): Promise<void>;
  /** Starts `weft proxy` with free ports; resolves when it printed its ready line. */
  sidecar(args: string[]): Promise<MeshSidecar>;
  stop(): Promise<void>;
}

export async function startMesh(controlPlaneArgs: string[] = []): Promise<Mesh> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-e2e-mtls-'));
  const procs: WeftProcess[] = [];
  const cp = await startWeft(
    [
      'control-plane',
      '--data-dir',
      join(dir, 'data'),
      '--api',
      '127.0.0.1:0',
      '--xds',
      '127.0.0.1:0',
      '--push-debounce',
      '20ms',
      ...controlPlaneArgs,
    ],
    { ready: CP_READY },
  );
  procs.push(cp);
  const server = cp.ready[1];
  return {
    server,
    dir,
    async apply(yaml) {
      const r = await runCli(['apply', '-f', '-', '--server', server], { input: yaml });
      if (r.code !== 0) throw new Error(`weft apply failed: ${r.stdout}${r.stderr}`);
    },
    async sidecar(args) {
      const proc = await startWeft(
        [
          'proxy',
          '--server',
          server,
          '--inbound-port',
          '0',
          '--outbound-port',
          '0',
          '--admin-port',
          '0',
          '--drain-timeout',
          '1s',
          ...args,
        ],
        // The DestinationRules of these tests name TLS files in the mesh's temp directory.
        { ready: PROXY_READY, timeoutMs: 60_000, env: { WEFT_TLS_FILE_DIRS: dir } },
      );
      procs.push(proc);
      return {
        proc,
        inbound: Number(proc.ready[1]),
        outbound: Number(proc.ready[2]),
        admin: Number(proc.ready[3]),
      };
    },
    async stop() {
      for (const p of procs.reverse()) await p.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The value of one sample of `/stats/prometheus` whose line contains every `parts` (0 when absent). */
export async function metric(adminPort: number, name: string, ...parts: string[]): Promise<number> {
  const r = await request(adminPort, { path: '/stats/prometheus' });
  for (const line of r.body.toString('utf8').split('\n'))
    if (line.startsWith(`${name}{`) && parts.every((p) => line.includes(p)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  return 0;
}

/** All label sets of a metric family, as the text inside `{}`. */
export async function metricLabels(adminPort: number, name: string): Promise<string[]> {
  const r = await request(adminPort, { path: '/stats/prometheus' });
  return r.body
    .toString('utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`))
    .map((l) => l.slice(name.length + 1, l.indexOf('}')));
}

/** Runs openssl with `input` on stdin; never rejects on a non-zero exit. */
export function openssl(
  args: string[],
  input = '',
  timeoutMs = 15_000,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
    // openssl may exit before reading its input (a refused handshake): no EPIPE from that.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** One HTTP/1.1 request over TLS with openssl s_client (optionally with a client certificate). */
export function opensslHttp(
  port: number,
  options: { cert?: string; key?: string; caFile?: string } = {},
): Promise<{ code: number | null; output: string }> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-quiet', '-ign_eof'];
  if (options.cert) args.push('-cert', options.cert);
  if (options.key) args.push('-key', options.key);
  if (options.caFile) args.push('-CAfile', options.caFile, '-verify_return_error');
  return openssl(args, 'GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n');
}
