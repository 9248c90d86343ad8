// Runs the open-loop generator (bench/lib/rate-client.ts) as a child process and returns its report.
import { join } from 'node:path';
import { type BenchContext, REPO } from './context.ts';
import { runCommand } from './processes.ts';
import type { RateClientConfig, RateClientReport } from './rate-client.ts';

export { mergeReports } from './rate-report.ts';
export type { RateClientConfig, RateClientReport };

/** Runs the generator once; throws with its output if it fails. */
export async function runRate(ctx: BenchContext, config: RateClientConfig): Promise<RateClientReport> {
  const result = await runCommand(
    'open-loop client',
    ctx.node,
    [join(REPO, 'bench', 'lib', 'rate-client.ts'), JSON.stringify(config)],
    { timeoutMs: (config.warmupS + config.durationS + 60) * 1000 },
  );
  if (result.code !== 0)
    throw new Error(
      `open-loop client exited with ${result.code ?? result.signal}:\n${result.stdout}${result.stderr}`,
    );
  const line = result.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as RateClientReport;
}
