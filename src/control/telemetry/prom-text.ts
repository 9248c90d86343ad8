// A reader of the Prometheus text exposition format (what a proxy's admin /stats/prometheus serves), limited to the families asked for.

/** One sample line: metric name (with `_bucket`/`_sum`/`_count` kept), its labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** A histogram bucket's bound (`le`), kept apart from `labels` (shared by the buckets). */
  le?: string;
}

const ESCAPES: Record<string, string> = { n: '\n', '\\': '\\', '"': '"' };

/** `a="x",b="y\"z"` -> labels; returns undefined for a malformed list. */
function parseLabels(text: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    while (text[i] === ',' || text[i] === ' ') i++;
    if (i >= text.length) break;
    const eq = text.indexOf('=', i);
    if (eq === -1 || text[eq + 1] !== '"') return undefined;
    const name = text.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        j++;
        value += ESCAPES[text[j]] ?? text[j];
      } else value += text[j];
    }
    if (j >= text.length) return undefined;
    labels[name] = value;
    i = j + 1;
  }
  return labels;
}

/**
 * The samples of `body` whose metric name starts with one of `prefixes`; comments and bad lines
 * are skipped. Lines with the same label text (apart from a trailing `le`) share one labels
 * object, read once: a histogram's buckets cost one parse, not one each.
 */
export function parsePrometheusText(body: string, prefixes: readonly string[]): Sample[] {
  const out: Sample[] = [];
  const seen = new Map<string, Record<string, string> | undefined>();
  for (const line of body.split('\n')) {
    if (line === '' || line[0] === '#') continue;
    if (!prefixes.some((p) => line.startsWith(p))) continue;
    const brace = line.indexOf('{');
    const close = brace === -1 ? -1 : line.lastIndexOf('}');
    const nameEnd = brace === -1 ? line.indexOf(' ') : brace;
    if (nameEnd <= 0) continue;
    let text = brace === -1 ? '' : line.slice(brace + 1, close);
    let le: string | undefined;
    const at = text.lastIndexOf(',le="');
    if (at !== -1 && text.endsWith('"')) {
      le = text.slice(at + 5, -1);
      text = text.slice(0, at);
    }
    let labels = seen.get(text);
    if (!seen.has(text)) {
      labels = parseLabels(text);
      seen.set(text, labels);
    }
    if (!labels) continue;
    const value = Number(
      line
        .slice(brace === -1 ? nameEnd : close + 1)
        .trim()
        .split(' ')[0],
    );
    if (Number.isNaN(value)) continue;
    out.push({ name: line.slice(0, nameEnd), labels, value, le });
  }
  return out;
}
