// `weft node`: one proxy process for every workload on a host (`weft run --node URL` adds each), instead of a sidecar each.
import type { Command } from 'commander';
import { environment } from '../env.ts';
import { UsageError } from '../errors.ts';
import { NodeAgent } from '../node/node-agent.ts';
import { logger } from '../observe/log.ts';
import { deferDefaultTrust } from '../proxy/tls/default-trust.ts';

interface NodeOptions {
  listen: string;
  server: string;
}

/** `--listen HOST:PORT`, loopback only: whoever reaches the API can add a workload. */
function listenAddress(text: string): { host: string; port: number } {
  const m = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !(port >= 0 && port <= 65535))
    throw new UsageError(
      `--listen ${JSON.stringify(text)} must be a loopback HOST:PORT like 127.0.0.1:15020 (the API adds workloads, so it is never exposed beyond the host)`,
    );
  return { host: m[1] === '[::1]' ? '::1' : m[1], port };
}

export function register(program: Command): void {
  program
    .command('node')
    .description(
      'run the node agent: one proxy process serving every workload on this host that `weft run --node URL` adds, ' +
        'each with its own identity (certificate), inbound/outbound/admin ports, xDS stream and policies. ' +
        'A workload costs the host about 0.4-0.5 MB instead of a sidecar process (docs/node.md)',
    )
    .option(
      '--listen <host:port>',
      'address of the agent API (loopback only; 0 picks a port)',
      '127.0.0.1:15020',
    )
    .option(
      '--server <url>',
      'control-plane API URL for every workload (WEFT_SERVER; several replicas: URL,URL)',
      environment.server,
    )
    .action(async (opts: NodeOptions) => {
      deferDefaultTrust();
      const { host, port } = listenAddress(opts.listen);
      const log = logger({ component: 'node' });
      const agent = new NodeAgent({ host, port, server: opts.server });
      const bound = await agent.listen();
      let stopping = false;
      const shutdown = (signal: NodeJS.Signals) => {
        if (stopping) process.exit(1);
        stopping = true;
        log.info({ signal }, 'draining every workload');
        agent.shutdown().then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
      const shown = host.includes(':') ? `[${host}]` : host;
      process.stdout.write(`weft node ready: api http://${shown}:${bound} server ${opts.server}\n`);
    });
}
