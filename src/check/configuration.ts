// Checks the stored configuration with `weft analyze`'s analyzers: valid YAML that is wrong as a mesh is counted by kind.
import type { AnalyzeResponse } from '../control/api/types.ts';
import { jsonBody } from './http.ts';
import type { ControlPlaneProbe } from './probe.ts';
import type { CheckResult } from './types.ts';

const NAME = 'configuration has no mesh problems (weft analyze)';

/** A warning (never a failure) with the number of findings per code. */
export async function checkConfiguration(probe: ControlPlaneProbe): Promise<CheckResult> {
  const answer = await probe.get('/api/v1/analyze');
  const findings = answer.status === 200 ? jsonBody<AnalyzeResponse>(answer)?.findings : undefined;
  if (findings === undefined)
    return {
      name: NAME,
      outcome: 'warn',
      detail: `/api/v1/analyze answered ${answer.status}`,
      hint: 'is the control plane as new as this CLI?',
    };
  if (findings.length === 0) return { name: NAME, outcome: 'pass', detail: 'no problems found' };
  const counts = new Map<string, number>();
  for (const f of findings) counts.set(f.code, (counts.get(f.code) ?? 0) + 1);
  return {
    name: NAME,
    outcome: 'warn',
    detail: `${findings.length} problem${findings.length === 1 ? '' : 's'}: ${[...counts].map(([code, n]) => `${n} ${code}`).join(', ')}`,
    hint: 'run `weft analyze` to see each with its resource, field and fix',
  };
}
