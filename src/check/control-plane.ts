// Checks that the control plane answers, is ready, tells proxies where xDS is, and that xDS accepts connections.
import net from 'node:net';
import { ApiUnreachable, jsonBody, parseJson } from './http.ts';
import type { ControlPlaneProbe } from './probe.ts';
import type { CheckConfig, CheckResult } from './types.ts';

const START_HINT = 'start one with `weft control-plane`, or point --server / WEFT_SERVER at a running one';

/** Whether the API answered at all; later categories are skipped when it did not. */
export type Reachability = 'reachable' | 'unreachable';

/** The error message of an API error body, or the start of the body. */
function answerText(body: string): string {
  const error = parseJson<{ error?: { message?: string } }>(body)?.error;
  return error?.message ?? body.trim().slice(0, 120);
}

function connect(address: string, timeoutMs: number): Promise<'connected' | string> {
  const match = /^\[?([^\]]+)\]?:(\d+)$/.exec(address);
  if (!match) return Promise.resolve(`"${address}" is not HOST:PORT`);
  return new Promise((resolve) => {
    const socket = net.connect({ host: match[1], port: Number(match[2]) });
    const done = (outcome: string) => {
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(timeoutMs, () => done('timed out'));
    socket.once('connect', () => done('connected'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

export async function checkControlPlane(
  probe: ControlPlaneProbe,
  config: CheckConfig,
): Promise<{ results: CheckResult[]; reachability: Reachability }> {
  const results: CheckResult[] = [];
  const reachable = 'control plane API is reachable';
  try {
    const health = await probe.get('/healthz');
    if (health.status !== 200 || jsonBody<{ status?: string }>(health)?.status !== 'ok') {
      results.push({
        name: reachable,
        outcome: 'fail',
        detail: `${probe.server}/healthz answered ${health.status}, not weft's {"status":"ok"}`,
        hint: "is --server the control plane's API address (default http://127.0.0.1:15080)?",
      });
      return { results, reachability: 'unreachable' };
    }
    results.push({ name: reachable, outcome: 'pass', detail: probe.server });
  } catch (err) {
    if (!(err instanceof ApiUnreachable)) throw err;
    results.push({ name: reachable, outcome: 'fail', detail: err.message, hint: START_HINT });
    return { results, reachability: 'unreachable' };
  }

  const ready = await probe.get('/ready');
  results.push(
    ready.status === 200
      ? { name: 'control plane is ready', outcome: 'pass' }
      : {
          name: 'control plane is ready',
          outcome: 'fail',
          detail: `/ready answered ${ready.status}: ${answerText(ready.body)}`,
          hint: 'it is starting or stopping: read its log, or wait a moment and run weft check again',
        },
  );

  const bootstrap = await probe.get('/api/v1/bootstrap');
  const body = jsonBody<{ xdsAddress?: string; trustDomain?: string }>(bootstrap);
  if (bootstrap.status !== 200 || typeof body?.xdsAddress !== 'string') {
    results.push({
      name: 'bootstrap answers with the xDS address',
      outcome: 'fail',
      detail: `/api/v1/bootstrap answered ${bootstrap.status}: ${answerText(bootstrap.body)}`,
      hint: 'proxies learn the xDS address there; start the control plane with --xds HOST:PORT',
    });
  } else {
    results.push({
      name: 'bootstrap answers with the xDS address',
      outcome: 'pass',
      detail: `xDS ${body.xdsAddress}, trust domain ${body.trustDomain ?? '?'}`,
    });
    const outcome = await connect(body.xdsAddress, config.requestTimeoutMs);
    results.push(
      outcome === 'connected'
        ? { name: 'xDS server accepts connections', outcome: 'pass', detail: body.xdsAddress }
        : {
            name: 'xDS server accepts connections',
            outcome: 'fail',
            detail: `cannot connect to ${body.xdsAddress} (${outcome})`,
            hint: 'proxies cannot get configuration: check --xds of the control plane and any firewall between',
          },
    );
  }

  const proxies = await probe.get('/api/v1/proxies');
  const version = jsonBody<{ controlPlaneVersion?: string }>(proxies)?.controlPlaneVersion;
  const name = 'control plane and CLI versions match';
  if (proxies.status !== 200 || typeof version !== 'string')
    results.push({
      name,
      outcome: 'warn',
      detail: `/api/v1/proxies answered ${proxies.status}; the control plane's version is unknown`,
      hint: 'this control plane serves no xDS status; start it with --xds',
    });
  else if (version !== config.cliVersion)
    results.push({
      name,
      outcome: 'warn',
      detail: `control plane ${version}, CLI ${config.cliVersion}`,
      hint: 'upgrade the older of the two so that they agree',
    });
  else results.push({ name, outcome: 'pass', detail: version });
  return { results, reachability: 'reachable' };
}
