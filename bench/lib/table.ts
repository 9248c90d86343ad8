// Markdown tables and the number formats every benchmark section uses.

/** Column alignment. */
export type Align = 'left' | 'right';

/**
 * A markdown table: `rows` are already formatted cells; pipes inside cells are escaped.
 * Without `align`, the first column and a "notes" column are left-aligned, the others (figures) right.
 */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align?: readonly Align[],
): string {
  const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const rule = headers.map((h, i) =>
    (align?.[i] ?? (i === 0 || h === 'notes' ? 'left' : 'right')) === 'right' ? '---:' : '---',
  );
  return [
    `| ${headers.map(cell).join(' | ')} |`,
    `| ${rule.join(' | ')} |`,
    ...rows.map((r) => `| ${headers.map((_, i) => cell(r[i] ?? '')).join(' | ')} |`),
  ].join('\n');
}

/** 12345.6 → "12,346". */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Milliseconds with precision that suits their size: 0.123, 1.23, 12.3, 123. */
export function fmtMs(ms: number): string {
  const a = Math.abs(ms);
  if (a < 1) return ms.toFixed(3);
  if (a < 10) return ms.toFixed(2);
  if (a < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}

/** A signed difference in milliseconds: "+0.412", "−0.020". */
export function fmtDeltaMs(ms: number): string {
  return ms < 0 ? `−${fmtMs(-ms)}` : `+${fmtMs(ms)}`;
}

/** Bytes as MB (10^6), one decimal. */
export function fmtMB(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/** A ratio: "0.42×"; three decimals near the targets' bounds (0.497×) so the verdict reads right. */
export function fmtRatio(r: number): string {
  return `${r.toFixed(Math.abs(r - 0.5) < 0.01 || Math.abs(r - 1.5) < 0.01 ? 3 : 2)}×`;
}
