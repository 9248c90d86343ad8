// A reader of the Prometheus text exposition format (what a proxy's admin /stats/prometheus serves), limited to the families asked for.

/** One sample line: metric name (with `_bucket`/`_sum`/`_count` kept), its labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
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

/** The samples of `body` whose metric name starts with one of `prefixes`; comments and bad lines are skipped. */
export function parsePrometheusText(body: string, prefixes: readonly string[]): Sample[] {
  const out: Sample[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || line[0] === '#') continue;
    if (!prefixes.some((p) => line.startsWith(p))) continue;
    const brace = line.indexOf('{');
    const close = brace === -1 ? -1 : line.lastIndexOf('}');
    const nameEnd = brace === -1 ? line.indexOf(' ') : brace;
    if (nameEnd <= 0) continue;
    const labels = brace === -1 ? {} : parseLabels(line.slice(brace + 1, close));
    if (!labels) continue;
    const rest = line
      .slice(brace === -1 ? nameEnd : close + 1)
      .trim()
      .split(' ');
    const value = Number(rest[0]);
    if (Number.isNaN(value)) continue;
    out.push({
      name: line.slice(0, nameEnd),
      labels,
      value,
    });
  }
  return out;
}
