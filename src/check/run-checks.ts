// Runs every `weft check` category in order; a control plane that does not answer skips the checks that need it.
import { checkCertificateAuthority } from './ca.ts';
import { checkClock } from './clock.ts';
import { checkCluster } from './cluster.ts';
import { checkConfiguration } from './configuration.ts';
import { checkControlPlane } from './control-plane.ts';
import { checkPorts } from './ports.ts';
import { ControlPlaneProbe } from './probe.ts';
import { checkProxies } from './proxies.ts';
import type { CategoryResult, CheckConfig, CheckReport, CheckResult } from './types.ts';

/** The defaults of DESIGN.md's CLI contract, with what uses each port. */
export const DEFAULT_PORTS: CheckConfig['ports'] = [
  { port: 15000, role: 'proxy admin' },
  { port: 15001, role: 'proxy outbound' },
  { port: 15006, role: 'proxy inbound' },
  { port: 15080, role: 'control-plane API' },
  { port: 15010, role: 'control-plane xDS' },
];

function skipped(names: string[]): CheckResult[] {
  return names.map((name) => ({
    name,
    outcome: 'skipped',
    detail: 'skipped: the control plane API is not reachable',
  }));
}

export async function runChecks(config: CheckConfig): Promise<CheckReport> {
  const probe = new ControlPlaneProbe(config.server, config.requestTimeoutMs);
  const categories: CategoryResult[] = [];
  const cp = await checkControlPlane(probe, config);
  categories.push({ category: 'control-plane', results: cp.results });
  if (cp.reachability === 'reachable') {
    categories.push({ category: 'store', results: await checkCluster(probe) });
    categories.push({
      category: 'certificate-authority',
      results: await checkCertificateAuthority(probe, config),
    });
    categories.push({ category: 'proxies', results: await checkProxies(probe, config) });
    categories.push({ category: 'configuration', results: [await checkConfiguration(probe)] });
    categories.push({ category: 'clock', results: [checkClock(await probe.get('/healthz'), config)] });
  } else {
    categories.push({ category: 'store', results: skipped(['store is known']) });
    categories.push({ category: 'certificate-authority', results: skipped(['trust bundle is present']) });
    categories.push({
      category: 'proxies',
      results: skipped(['every connected proxy is in sync (no NACK)']),
    });
    categories.push({
      category: 'configuration',
      results: skipped(['configuration has no mesh problems (weft analyze)']),
    });
    categories.push({
      category: 'clock',
      results: skipped([`clock difference with the control plane is under ${config.maxClockSkewMs / 1000}s`]),
    });
  }
  categories.push({ category: 'ports (informational)', results: await checkPorts(config) });
  const success = categories.every((c) => c.results.every((r) => r.outcome !== 'fail'));
  return { server: config.server, success, categories };
}
