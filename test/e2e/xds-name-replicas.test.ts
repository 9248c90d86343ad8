// End to end: a proxy given one control-plane name that resolves to two replicas on etcd (a hosts file of the test's own, in a private mount namespace) fails over to the other replica when its own dies.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, WEFT_BIN } from '../helpers/cli.ts';
import { type EtcdCluster, freePort, startEtcdCluster } from '../helpers/etcd-cluster.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { connectedProxies } from '../helpers/mesh-load.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const NAME = 'cp.weft.test';
const PROXY_READY = /weft proxy ready: .* admin 127\.0\.0\.1:(\d+)/;
/** How long the proxy may take to be ready on a busy machine. */
const READY_TIMEOUT_MS = 60_000;

/** `unshare -m` gives a process an /etc/hosts of its own without touching the machine's (needs root). */
function mountNamespaceRefusal(): string | undefined {
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'true'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `cannot create a mount namespace (unshare -m): ${r.stderr || r.error}`;
}

/** `weft proxy ...args` seeing `hostsFile` as /etc/hosts; resolves with its admin port once ready. */
function proxyWithHosts(hostsFile: string, args: string[]): Promise<{ admin: number; stop: () => void }> {
  const script = `mount --bind "$1" /etc/hosts && shift && exec "$@"`;
  const child = spawn(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
      'sh',
      hostsFile,
      process.execPath,
      WEFT_BIN,
      'proxy',
      ...args,
    ],
    { env: { ...process.env, WEFT_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`weft proxy not ready within ${READY_TIMEOUT_MS} ms:\n${output}`));
    }, READY_TIMEOUT_MS);
    const onData = (d: Buffer) => {
      output += d.toString('utf8');
      const m = PROXY_READY.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ admin: Number(m[1]), stop: () => child.kill('SIGKILL') });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`weft proxy exited (${code}):\n${output}`));
    });
  });
}

test('one name for two replicas: the proxy fails over to the other when its replica dies, and gets what is applied there', {
  timeout: 150_000,
}, async (t) => {
  const refused = mountNamespaceRefusal();
  if (refused) return t.skip(refused);
  const dir = await mkdtemp(join(tmpdir(), 'weft-e2e-xds-name-'));
  const procs: WeftProcess[] = [];
  let etcd: EtcdCluster | undefined;
  let proxy: { stop: () => void } | undefined;
  t.after(async () => {
    proxy?.stop();
    for (const p of procs) await p.stop('SIGKILL');
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  etcd = await startEtcdCluster(1);
  // Both replicas on the same ports, one per loopback address the name resolves to.
  const [api, xds] = [await freePort(), await freePort()];
  const replica = async (ip: string) => {
    const cp = await startWeft(
      [
        ...['control-plane', '--store', etcd!.storeUrl, '--etcd-lease-ttl', '2s'],
        ...['--data-dir', join(dir, ip), '--push-debounce', '20ms'],
        ...['--api', `${ip}:${api}`, '--xds', `${ip}:${xds}`],
      ],
      { ready: /weft control-plane ready: api (\S+)/, timeoutMs: 60_000 },
    );
    procs.push(cp);
    return cp.ready[1];
  };
  const servers = [await replica('127.0.0.1'), await replica('127.0.0.2')];
  const operatorToken = (await readFile(join(dir, '127.0.0.1', 'operator.token'), 'utf8')).trim();
  const token = await runCli(
    ['token', 'create', '--namespace', 'default', '--service-account', 'client', '--server', servers[0]],
    { env: { WEFT_TOKEN: operatorToken } },
  );
  assert.equal(token.code, 0, token.stderr);
  const hostsFile = join(dir, 'hosts');
  await writeFile(hostsFile, `127.0.0.1 ${NAME}\n127.0.0.2 ${NAME}\n`);
  const started = await proxyWithHosts(hostsFile, [
    ...['--server', `http://${NAME}:${api}`, '--token', token.stdout.trim()],
    ...[
      '--service',
      'client',
      '--app-port',
      '1',
      '--inbound-port',
      '0',
      '--outbound-port',
      '0',
      '--admin-port',
      '0',
    ],
  ]);
  proxy = started;
  let mine = -1;
  await eventuallyTrue('the proxy is connected to one replica', async () => {
    const counts = await Promise.all(servers.map(connectedProxies));
    mine = counts.indexOf(1);
    return counts[0] + counts[1] === 1;
  });
  const other = 1 - mine;
  await procs[mine].stop('SIGKILL');
  await eventuallyTrue(
    'the proxy reconnects to the other replica, by the name',
    async () => (await connectedProxies(servers[other])) === 1,
  );
  // Configuration applied on the surviving replica reaches the proxy.
  const file = join(dir, 'entry.yaml');
  await writeFile(
    file,
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: after-failover, namespace: default }
spec:
  hosts: [after-failover.example]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.9 }]
`,
  );
  const applied = await runCli(['apply', '-f', file, '--server', servers[other]], {
    env: { WEFT_TOKEN: operatorToken },
  });
  assert.equal(applied.code, 0, applied.stderr);
  await eventuallyTrue('the proxy has the cluster applied after the failover', async () => {
    const r = await request(started.admin, { path: '/clusters?format=json' });
    return r.body.toString('utf8').includes('after-failover.example');
  });
});
