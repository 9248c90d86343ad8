// Tables for the traffic views (stat, top, edges, proxy-config): columns padded, cells cut so a row fits 80 columns.

/** Formats rows (the first is the header) with two spaces between columns, shortening the widest cells to fit `width`. */
export function table(rows: string[][], width = 80): string {
  if (rows.length === 0) return '';
  const columns = rows[0].length;
  const widths = Array.from({ length: columns }, (_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (columns - 1);
  while (total() > width) {
    const widest = widths.indexOf(Math.max(...widths));
    if (widths[widest] <= 6) break;
    widths[widest]--;
  }
  const cut = (text: string, w: number) => (text.length <= w ? text : `${text.slice(0, w - 1)}~`);
  return rows
    .map((r) =>
      r
        .map((cell, c) =>
          c === columns - 1 ? cut(cell ?? '', widths[c]) : cut(cell ?? '', widths[c]).padEnd(widths[c]),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `98.50%`, or `-` when there is nothing to rate. */
export function percent(rate: number | null): string {
  return rate === null ? '-' : `${(rate * 100).toFixed(2)}%`;
}

/** `12ms`, `0.8ms`, or `-`. */
export function ms(value: number | null): string {
  if (value === null) return '-';
  return value >= 10 ? `${Math.round(value)}ms` : `${Math.round(value * 10) / 10}ms`;
}

/** Requests per second with two decimals at most (`1.5`). */
export function rps(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** A SPIFFE ID as `namespace/serviceaccount` (`-` when unknown). */
export function identity(principal: string): string {
  const m = /\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal);
  if (m) return `${m[1]}/${m[2]}`;
  return principal === 'unknown' || principal === '' ? '-' : principal;
}
