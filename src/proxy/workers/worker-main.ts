// Entry of one worker process of a multi-core proxy: binds the shared ports, applies what the primary sends.
import type net from 'node:net';
import { logger } from '../../observe/log.ts';
import { renderClustersJson, renderClustersText } from '../admin/admin-server.ts';
import { renderPrometheus } from '../admin/prometheus.ts';
import { bindServer } from '../listener/listener-manager.ts';
import { startIdleRelease } from '../overload/idle-release.ts';
import { ProxyCore } from '../proxy.ts';
import { deferDefaultTrust } from '../tls/default-trust.ts';
import type { FromWorker, ToWorker, WorkerStart } from './messages.ts';

const log = logger({ component: 'proxy-worker' });

function send(msg: FromWorker): void {
  process.send?.(msg);
}

async function main(): Promise<void> {
  deferDefaultTrust();
  const start = JSON.parse(process.argv[2] ?? '{}') as WorkerStart;
  const prebound = new Map<number, net.Server>();
  for (const p of start.prebind) prebound.set(p.port, await bindServer(p.host, p.port, true));
  const core = new ProxyCore({ prebound, reusePort: true, workload: start.workload, ...start.limits });
  startIdleRelease();
  // Updates are applied one at a time, in the order the primary sends them.
  let queue: Promise<void> = Promise.resolve();
  process.on('message', (msg: ToWorker) => {
    switch (msg.type) {
      case 'apply':
        queue = queue.then(() =>
          core.apply(msg.typeUrl, msg.resources, msg.version, msg.complete).then(
            () => send({ type: 'reply', id: msg.id, ok: true }),
            (err: unknown) =>
              send({
                type: 'reply',
                id: msg.id,
                ok: false,
                error: err instanceof Error ? err.message : String(err),
              }),
          ),
        );
        return;
      case 'secrets':
        for (const [name, secret] of msg.secrets) core.secrets.set(name, secret);
        send({ type: 'reply', id: msg.id, ok: true });
        return;
      case 'stats':
        send({ type: 'reply', id: msg.id, ok: true, result: renderPrometheus(core, undefined) });
        return;
      case 'clusters':
        send({
          type: 'reply',
          id: msg.id,
          ok: true,
          result: msg.format === 'json' ? JSON.stringify(renderClustersJson(core)) : renderClustersText(core),
        });
        return;
      case 'shutdown':
        void drain(core, msg.drainTimeoutMs);
        return;
    }
  });
  // The primary going away (crash or kill) takes the workers with it.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => void drain(core, 5000));
  process.on('SIGINT', () => {});
  send({ type: 'listening' });
}

async function drain(core: ProxyCore, timeoutMs: number): Promise<void> {
  core.drain();
  const deadline = Date.now() + timeoutMs;
  while (core.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  core.destroy();
  process.exit(0);
}

main().catch((err: unknown) => {
  log.error({ err }, 'worker failed to start');
  process.exit(1);
});
