// Renders certificate and token lifetimes in the Go/Istio duration syntax that flags accept (`24h`, `1h30m`).
// Parsing lives in src/config/duration.ts.

const UNITS: readonly [string, number][] = [
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
];

/** The shortest exact rendering of a millisecond count (`86400000` → `24h`, `90000` → `1m30s`). */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms);
  if (rest <= 0) return '0s';
  let out = '';
  for (const [unit, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
