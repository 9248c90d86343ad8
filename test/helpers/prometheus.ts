// Test helper: a real Prometheus (Debian's `prometheus`) scraping what weft's HTTP service discovery lists, and PromQL queries against it.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickFreePorts } from '../../src/run/ports.ts';
import { request } from './http-client.ts';

export interface Prometheus {
  port: number;
  /** An instant PromQL query: the result vector as [labels, value] pairs. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  stop(): Promise<void>;
}

/** A port free right now, outside the kernel's ephemeral range (src/run/ports.ts says why). */
export async function freePort(): Promise<number> {
  return (await pickFreePorts(1))[0];
}

/**
 * Starts `prometheus` with one job fed by `sdUrl` (http_sd_configs) and the control plane's own
 * `/metrics`, scraping every second. Resolves once its API answers; rejects (and stops it) if it
 * exits first or is not ready within 60 s.
 */
export async function startPrometheus(
  sdUrl: string,
  controlPlane: string,
  listenPort?: number,
): Promise<Prometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-prometheus-'));
  const config = `global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: weft-proxies
    http_sd_configs: [{url: '${sdUrl}', refresh_interval: 1s}]
  - job_name: weft-control-plane
    static_configs: [{targets: ['${controlPlane}']}]
`;
  await writeFile(join(dir, 'prometheus.yml'), config);
  const port = listenPort ?? (await freePort());
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (c) => {
    stderr += c;
  });
  let exited = false;
  const exit = new Promise<void>((r) =>
    child.once('exit', () => {
      exited = true;
      r();
    }),
  );
  const stop = async () => {
    if (!exited) child.kill('SIGKILL');
    await exit;
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`prometheus exited before it was ready: ${stderr}`);
    }
    try {
      if ((await request(port, { path: '/-/ready' })).status === 200) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready within 60 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    port,
    async query(promql) {
      const r = await request(port, { path: `/api/v1/query?query=${encodeURIComponent(promql)}` });
      const body = JSON.parse(r.body.toString('utf8')) as {
        status: string;
        error?: string;
        data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== 'success') throw new Error(`PromQL ${promql}: ${body.error}`);
      return body.data!.result.map((x) => ({ metric: x.metric, value: Number(x.value[1]) }));
    },
    stop,
  };
}
