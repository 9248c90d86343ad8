// The list of weft commands: each lives in its own file, imported only when that command runs.
import type { Command } from 'commander';

/** Adds one command (with its flags and action) to the program. */
export type RegisterCommand = (program: Command) => void;

/** One command of the table: enough to list it in `weft --help` without importing it. */
export interface CommandEntry {
  /** The command's name, as typed after `weft`. */
  name: string;
  /** One line for `weft --help` (the command's own `--help` prints its full description). */
  summary: string;
  /** Imports the command's module (and with it everything the command needs). */
  load: () => Promise<{ register: RegisterCommand }>;
  /** Commands whose registration this one reads (registered first when this one runs). */
  needs?: string[];
}

/** Every command, in the order `weft --help` lists them (and registers them). */
export const commands: CommandEntry[] = [
  {
    name: 'version',
    summary: 'print the weft version and the Node.js runtime',
    load: () => import('./version.ts'),
  },
  {
    name: 'token',
    summary: 'manage bootstrap tokens that let workloads get certificates',
    load: () => import('./token.ts'),
  },
  {
    name: 'control-plane',
    summary: 'run the control plane: resource store, workload registry, HTTP API and xDS server',
    load: () => import('./control-plane.ts'),
  },
  {
    name: 'apply',
    summary: 'create or update resources from files, a directory or stdin (all documents or none)',
    load: () => import('./apply.ts'),
  },
  {
    name: 'get',
    summary:
      'show resources of a kind (any alias: vs, virtualservices), or the registry: workloads, endpoints',
    load: () => import('./get.ts'),
  },
  {
    name: 'delete',
    summary: 'delete the resources named in files, or one resource by kind and name',
    load: () => import('./delete.ts'),
  },
  {
    name: 'history',
    summary: 'show the past revisions of one resource',
    load: () => import('./history.ts'),
  },
  {
    name: 'rollback',
    summary: 'apply a resource again as it was at a past revision (weft history lists them)',
    load: () => import('./rollback.ts'),
  },
  {
    name: 'backup',
    summary: 'write every resource, at one revision, as one YAML file (weft restore reads it back)',
    load: () => import('./backup.ts'),
  },
  {
    name: 'restore',
    summary: 'apply a weft backup file, in batches that any store accepts',
    load: () => import('./restore.ts'),
  },
  {
    name: 'proxy',
    summary: 'run a sidecar proxy for one workload (inbound, outbound and admin ports; config over xDS)',
    load: () => import('./proxy.ts'),
  },
  {
    name: 'node',
    summary: 'run one proxy process for every workload on this host (weft run --node adds them)',
    load: () => import('./node.ts'),
  },
  {
    name: 'gateway',
    summary: 'run an ingress or egress gateway configured by Istio and Gateway API Gateways',
    load: () => import('./gateway.ts'),
  },
  {
    name: 'proxy-status',
    summary: 'show every xDS client of the control plane and whether it is in sync (SYNCED, STALE, NACK)',
    load: () => import('./proxy-status.ts'),
  },
  {
    name: 'proxy-config',
    summary: "show a proxy's clusters, listeners, routes, endpoints, secrets or bootstrap (as istioctl)",
    load: () => import('./proxy-config.ts'),
  },
  {
    name: 'stat',
    summary:
      'success rate, requests per second, latency percentiles and TCP connections per workload or service',
    load: () => import('./stat.ts'),
  },
  {
    name: 'top',
    summary: 'the busiest paths right now (live on a terminal)',
    load: () => import('./top.ts'),
  },
  {
    name: 'tap',
    summary: 'stream requests through the mesh live, with filters (never bodies or secret headers)',
    load: () => import('./tap.ts'),
  },
  {
    name: 'edges',
    summary: 'who calls whom: source workload, destination service, identities and mTLS',
    load: () => import('./edges.ts'),
  },
  {
    name: 'dashboard',
    summary:
      'print (and on a desktop open) the URL of the web dashboard: graph, services, proxies, config, tap',
    load: () => import('./dashboard.ts'),
  },
  {
    name: 'run',
    summary: 'run an app with its sidecar as one unit (takes every flag of weft proxy)',
    load: () => import('./run.ts'),
    needs: ['proxy'],
  },
  {
    name: 'proxyless',
    summary: "a proxyless gRPC app's agent: its xDS bootstrap and mTLS certificate files, rotated",
    load: () => import('./proxyless.ts'),
  },
  {
    name: 'demo',
    summary:
      'run a local mesh: control plane, ingress gateway on --port and the Bookinfo sample; Ctrl-C stops it all',
    load: () => import('./demo.ts'),
  },
  {
    name: 'analyze',
    summary:
      'find valid YAML that is wrong as a mesh (undefined subsets, unknown hosts, unattached routes, ...) with file, line and a fix',
    load: () => import('./analyze.ts'),
  },
  {
    name: 'check',
    summary:
      'check the mesh: control plane, xDS, CA trust bundle, proxies in sync, clock; exit 0 only if all pass',
    load: () => import('./check.ts'),
  },
];
