// Istio duration strings (`1.5s`, `500ms`, `2m`, `1h30m`, Go's time.ParseDuration syntax) to milliseconds.

/** The outcome of reading a duration: whole milliseconds, or why the text is not one. */
export type DurationResult = { ms: number } | { error: string };

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Largest duration accepted (protobuf's Duration limit is far larger; ten years is plenty for config). */
const MAX_MS = 10 * 365 * 24 * 3_600_000;

/**
 * Parses an Istio/protobuf duration: one or more `<number><unit>` parts with units
 * ns, us, ms, s, m, h (`1h30m`, `1.5s`, `250ms`), or `0`. Istio only supports millisecond
 * precision, so `1.5ms` is rejected; so are negative values and bare numbers.
 */
export function parseDuration(text: string): DurationResult {
  const value = text.trim();
  if (value === '0') return { ms: 0 };
  if (value === '') return { error: 'duration is empty; write it like 1.5s, 500ms, 2m or 1h' };
  if (value.startsWith('-')) return { error: `duration "${text}" is negative` };
  let total = 0;
  PART.lastIndex = 0;
  let at = 0;
  while (at < value.length) {
    PART.lastIndex = at;
    const part = PART.exec(value);
    if (part === null) return { error: `"${text}" is not a duration; write it like 1.5s, 500ms, 2m or 1h` };
    total += Number(part[1]) * UNIT_MS[part[2]];
    at = PART.lastIndex;
  }
  // Work around float noise (0.1s * 1000 = 100.00000000000001) before checking precision.
  const rounded = Math.round(total * 1e6) / 1e6;
  if (!Number.isInteger(rounded))
    return {
      error: `duration "${text}" is not a whole number of milliseconds (Istio supports ms precision)`,
    };
  if (rounded > MAX_MS) return { error: `duration "${text}" is too long` };
  return { ms: rounded };
}
