// Test helper: a real etcd cluster (Debian `etcd-server`) of N members on free loopback ports, each in a temp data dir.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { pickFreePorts } from '../../src/run/ports.ts';

export interface EtcdMember {
  name: string;
  /** `http://127.0.0.1:PORT` clients use. */
  clientUrl: string;
  peerUrl: string;
  process: ChildProcess | undefined;
  output: string;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** `etcd://127.0.0.1:P1,127.0.0.1:P2,...` for `weft control-plane --store`. */
  storeUrl: string;
  /** Kills one member (SIGKILL) and waits for its exit. */
  kill(index: number): Promise<void>;
  /** Stops every member and removes the data dirs. */
  stop(): Promise<void>;
}

/** PEM files for a cluster that serves TLS and asks clients for certificates. */
export interface EtcdTls {
  ca: string;
  /** Server certificate (SAN localhost) and key. */
  cert: string;
  key: string;
  /** A client certificate the CA signed, and its key. */
  clientCert: string;
  clientKey: string;
}

/** A port free right now, outside the kernel's ephemeral range (src/run/ports.ts says why). */
export async function freePort(): Promise<number> {
  return (await pickFreePorts(1))[0];
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts `size` etcd members (`etcd` on PATH, Debian package etcd-server; TLS with client-cert
 * auth when `tls` is given) with short heartbeat
 * and election timeouts, and resolves when the cluster answers a linearizable read; rejects after
 * `timeoutMs` with the members' output.
 */
export async function startEtcdCluster(
  size = 3,
  options: { timeoutMs?: number; tls?: EtcdTls; extraArgs?: string[] } = {},
): Promise<EtcdCluster> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { tls } = options;
  const dir = await mkdtemp(join(tmpdir(), 'weft-etcd-'));
  const members: EtcdMember[] = [];
  for (let i = 0; i < size; i++)
    members.push({
      name: `m${i}`,
      clientUrl: tls ? `https://localhost:${await freePort()}` : `http://127.0.0.1:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      process: undefined,
      output: '',
    });
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  for (const m of members) {
    const child = spawn(
      'etcd',
      [
        `--name=${m.name}`,
        `--data-dir=${join(dir, m.name)}`,
        `--listen-client-urls=${m.clientUrl.replace('localhost', '127.0.0.1')}`,
        ...(tls
          ? [
              `--cert-file=${tls.cert}`,
              `--key-file=${tls.key}`,
              `--trusted-ca-file=${tls.ca}`,
              '--client-cert-auth',
            ]
          : []),
        `--advertise-client-urls=${m.clientUrl}`,
        `--listen-peer-urls=${m.peerUrl}`,
        `--initial-advertise-peer-urls=${m.peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        '--initial-cluster-state=new',
        '--initial-cluster-token=weft-test',
        '--heartbeat-interval=50',
        '--election-timeout=500',
        '--logger=zap',
        '--log-level=error',
        ...(options.extraArgs ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (m.output += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (m.output += d));
    m.process = child;
  }
  const cluster: EtcdCluster = {
    members,
    storeUrl: `etcd://${members.map((m) => m.clientUrl.replace(/^https?:\/\//, '')).join(',')}`,
    kill: async (index) => {
      const child = members[index].process;
      if (!child) return;
      child.kill('SIGKILL');
      await exited(child);
    },
    stop: async () => {
      for (const m of members) m.process?.kill('SIGKILL');
      await Promise.all(members.map((m) => (m.process ? exited(m.process) : undefined)));
      await rm(dir, { recursive: true, force: true });
    },
  };
  const client = new Etcd3({
    hosts: members.map((m) => m.clientUrl),
    dialTimeout: 2000,
    ...(tls
      ? {
          credentials: {
            rootCertificate: readFileSync(tls.ca),
            certChain: readFileSync(tls.clientCert),
            privateKey: readFileSync(tls.clientKey),
          },
        }
      : {}),
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await client.get('weft-test-probe').options({ deadline: Date.now() + 2000 });
        return cluster;
      } catch (err) {
        if (Date.now() > deadline) {
          await cluster.stop();
          throw new Error(
            `etcd cluster not ready after ${timeoutMs} ms (${(err as Error).message}):\n${members.map((m) => m.output.slice(-2000)).join('\n')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    client.close();
  }
}
