// Checks that every connected proxy runs the configuration last sent to it: no NACK, nothing left unacknowledged.
import type { ProxiesResponse, ProxyStatus } from '../control/xds/types.ts';
import { jsonBody } from './http.ts';
import type { ControlPlaneProbe } from './probe.ts';
import type { CheckConfig, CheckResult } from './types.ts';

/** One type URL's state for one proxy, as `weft proxy-status` names them. */
type SyncState = 'synced' | 'stale' | 'nack' | 'not-sent';

function stateOf(entry: ProxyStatus['types'][string]): SyncState {
  if (!entry.sent) return 'not-sent';
  if (entry.nack) return 'nack';
  return entry.acked === entry.sent ? 'synced' : 'stale';
}

/** The short type name (`Cluster`) of an Envoy type URL. */
function typeName(url: string): string {
  return url.slice(url.lastIndexOf('.') + 1);
}

function problemsOf(proxies: ProxyStatus[]): { nacks: string[]; stale: string[] } {
  const nacks: string[] = [];
  const stale: string[] = [];
  for (const p of proxies)
    for (const [url, entry] of Object.entries(p.types)) {
      const state = stateOf(entry);
      if (state === 'nack' && entry.nack)
        nacks.push(`${p.nodeId} rejected ${typeName(url)}: ${entry.nack.message}`);
      if (state === 'stale')
        stale.push(`${p.nodeId} has not acknowledged ${typeName(url)} version ${entry.sent}`);
    }
  return { nacks, stale };
}

export async function checkProxies(probe: ControlPlaneProbe, config: CheckConfig): Promise<CheckResult[]> {
  const name = 'every connected proxy is in sync (no NACK)';
  let answer = await probe.get('/api/v1/proxies');
  let body = jsonBody<ProxiesResponse>(answer);
  if (answer.status !== 200 || !Array.isArray(body?.proxies))
    return [
      {
        name,
        outcome: 'fail',
        detail: `/api/v1/proxies answered ${answer.status}`,
        hint: 'this control plane serves no xDS status; start it with --xds',
      },
    ];
  let problems = problemsOf(body.proxies);
  // A push in flight is STALE for a moment: give it time before calling it a problem.
  const deadline = Date.now() + config.staleGraceMs;
  while (problems.nacks.length === 0 && problems.stale.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    answer = await probe.refetch('/api/v1/proxies');
    body = jsonBody<ProxiesResponse>(answer);
    if (answer.status !== 200 || !Array.isArray(body?.proxies)) break;
    problems = problemsOf(body.proxies);
  }
  const count = body?.proxies.length ?? 0;
  if (problems.nacks.length > 0)
    return [
      {
        name,
        outcome: 'fail',
        detail: problems.nacks.join('\n'),
        hint: 'the proxy keeps its last good configuration; `weft proxy-status` shows the NACK: fix the resource it names',
      },
    ];
  if (problems.stale.length > 0)
    return [
      {
        name,
        outcome: 'fail',
        detail: problems.stale.join('\n'),
        hint: 'the proxy did not answer the last push: is it overloaded or stuck? check its admin /config_dump',
      },
    ];
  return [
    {
      name,
      outcome: 'pass',
      detail: count === 0 ? 'no proxy is connected' : `${count} prox${count === 1 ? 'y' : 'ies'}`,
    },
  ];
}
