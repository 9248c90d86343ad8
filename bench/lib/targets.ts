// The targets as verdict lines: each says the figure, the bound, and met / not met.

/** The verdict of one target. */
export type Verdict = 'met' | 'not met' | 'not measured';

/** A target line for the document. */
export interface TargetCheck {
  /** What is required, e.g. "one weft proxy ≥ 0.5× nginx req/s". */
  target: string;
  verdict: Verdict;
  /** The figures it was judged on, or why it could not be. */
  detail: string;
}

/** value ≥ bound (or ≤ bound); undefined inputs mean the figure could not be measured. */
export function check(
  target: string,
  value: number | undefined,
  relation: 'at-least' | 'at-most',
  bound: number | undefined,
  detail: (value: number, bound: number) => string,
  missing: string,
): TargetCheck {
  if (value === undefined || bound === undefined || !Number.isFinite(value) || !Number.isFinite(bound))
    return { target, verdict: 'not measured', detail: missing };
  const ok = relation === 'at-least' ? value >= bound : value <= bound;
  return { target, verdict: ok ? 'met' : 'not met', detail: detail(value, bound) };
}

/** The "Targets" lines of a section. */
export function targetLines(checks: readonly TargetCheck[]): string {
  return checks.map((c) => `- ${c.target}: **${c.verdict}** (${c.detail})`).join('\n');
}
