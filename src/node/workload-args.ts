// A node agent's workload, from the flags `weft proxy` takes: parsed and validated by weft proxy's own parser.
import { Command, CommanderError } from 'commander';
import { register, toSidecarConfig } from '../cli/proxy.ts';
import { UsageError } from '../errors.ts';
import type { SidecarConfig } from '../proxy/sidecar.ts';

/** What the agent itself decides for every workload it serves. */
export interface WorkloadDefaults {
  /** The agent's control-plane API URL (its `--server`), unless the workload names another. */
  server: string;
}

/** `weft proxy` flags that belong to a whole process, so a workload of a shared agent cannot set them. */
const PROCESS_FLAGS: Record<string, string> = {
  '--concurrency': 'the node agent serves every workload in its one process',
  '--capture': 'transparent capture needs a sidecar of its own (weft run without --node)',
  '--dns-port': 'mesh DNS is served by a sidecar of its own (weft run --capture without --node)',
  '--max-heap-mb': "the heap is the agent's, shared by its workloads",
  // The agent may run with more rights than whoever reaches its API: it reads no file a caller
  // names and talks to no control plane a caller names.
  '--token-file':
    'the agent reads no file named by a caller; pass the token itself (--token), as weft run --node does',
  '--server': "every workload uses the agent's control plane (weft node --server)",
  '--xds': "every workload uses the agent's control plane (weft node --server)",
};

/**
 * Turns a workload's `weft proxy` flags (as `weft run` forwards them) into its SidecarConfig.
 * Bad flags are a UsageError naming the flag, exactly as `weft proxy` would report them.
 */
export function workloadConfig(args: readonly string[], defaults: WorkloadDefaults): SidecarConfig {
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))
    throw new UsageError('"args" must be a list of weft proxy flags (strings)');
  for (const arg of args) {
    const flag = arg.split('=')[0];
    if (flag in PROCESS_FLAGS)
      throw new UsageError(`${flag} is not for a workload of a node agent: ${PROCESS_FLAGS[flag]}`);
  }
  const program = new Command().exitOverride();
  register(program);
  const proxy = program.commands.find((c) => c.name() === 'proxy');
  if (!proxy) throw new Error('cli/proxy.ts registers no proxy command');
  let errors = '';
  let parsed: Parameters<typeof toSidecarConfig>[0] | undefined;
  proxy
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: (text) => (errors += text) })
    .action((opts: Parameters<typeof toSidecarConfig>[0]) => {
      parsed = opts;
    });
  try {
    proxy.parse(['--server', defaults.server, ...args], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError)
      throw new UsageError((errors.trim() || err.message).replace(/^error: /, ''));
    throw err;
  }
  if (!parsed) throw new UsageError('no workload flags were parsed');
  return toSidecarConfig(parsed);
}
