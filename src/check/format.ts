// Prints a `weft check` report the way `linkerd check` does: categories, one mark per check, hints under failures.
import type { CheckOutcome, CheckReport } from './types.ts';

const MARK: Record<CheckOutcome, string> = { pass: '√', fail: '×', warn: '‼', info: '·', skipped: '-' };

export function formatReport(report: CheckReport): string {
  const lines: string[] = [];
  for (const { category, results } of report.categories) {
    lines.push(category, '-'.repeat(category.length));
    for (const r of results) {
      const inline = r.outcome === 'pass' || r.outcome === 'info' || r.outcome === 'skipped';
      lines.push(`${MARK[r.outcome]} ${r.name}${inline && r.detail ? `: ${r.detail}` : ''}`);
      if (!inline && r.detail) for (const d of r.detail.split('\n')) lines.push(`    ${d}`);
      if (r.hint && (r.outcome === 'fail' || r.outcome === 'warn')) lines.push(`    hint: ${r.hint}`);
    }
    lines.push('');
  }
  lines.push(`Status check results are ${report.success ? '√' : '×'}`);
  return `${lines.join('\n')}\n`;
}
