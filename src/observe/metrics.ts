// A small metrics registry for the hot path: labelled counters, gauges and histograms rendered in Prometheus text format.
//
// A labelled series is resolved once (its label text is built then) and kept by the caller; an
// increment or an observation is then a plain number add on that series: no string building, no
// lookup, no allocation per request. See docs/design/metrics.md for why not prom-client.

/** One counter or gauge series. */
export class ValueSeries {
  value = 0;
  /** `{a="x",b="y"}`, or '' without labels. */
  readonly labelText: string;

  constructor(labelText: string) {
    this.labelText = labelText;
  }

  inc(by = 1): void {
    this.value += by;
  }
}

/** One histogram series: per-bucket counts (not cumulative), sum and count. */
export class HistogramSeries {
  readonly labelText: string;
  readonly bounds: readonly number[];
  /** counts[i] = observations in (bounds[i-1], bounds[i]]; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(labelText: string, bounds: readonly number[]) {
    this.labelText = labelText;
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

type Kind = 'counter' | 'gauge' | 'histogram';

/** A metric family: a name, a type and its series by label values. */
export class Family<S extends ValueSeries | HistogramSeries> {
  readonly name: string;
  readonly kind: Kind;
  readonly help: string;
  readonly labelNames: readonly string[];
  private readonly bounds: readonly number[];
  private readonly byLabels = new Map<string, S>();

  constructor(
    name: string,
    kind: Kind,
    help: string,
    labelNames: readonly string[],
    bounds: readonly number[] = [],
  ) {
    this.name = name;
    this.kind = kind;
    this.help = help;
    this.labelNames = labelNames;
    this.bounds = bounds;
  }

  /** The series for these label values (in `labelNames` order); created on first use. Cache the result. */
  series(values: readonly string[] = []): S {
    const text = labelText(this.labelNames, values);
    let s = this.byLabels.get(text);
    if (!s) {
      s = (this.kind === 'histogram' ? new HistogramSeries(text, this.bounds) : new ValueSeries(text)) as S;
      this.byLabels.set(text, s);
    }
    return s;
  }

  /** Drops every series (gauges rebuilt at each collection). */
  clear(): void {
    this.byLabels.clear();
  }

  all(): IterableIterator<S> {
    return this.byLabels.values();
  }

  render(): string {
    if (this.byLabels.size === 0) return '';
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.kind}\n`;
    for (const s of this.byLabels.values()) {
      if (s instanceof HistogramSeries) out += renderHistogram(this.name, s);
      else out += `${this.name}${s.labelText} ${s.value}\n`;
    }
    return out;
  }
}

function renderHistogram(name: string, s: HistogramSeries): string {
  // le goes last among the labels: `{a="x",le="5"}`.
  const open = s.labelText === '' ? '{' : `${s.labelText.slice(0, -1)},`;
  let out = '';
  let cumulative = 0;
  for (let i = 0; i < s.bounds.length; i++) {
    cumulative += s.counts[i];
    out += `${name}_bucket${open}le="${s.bounds[i]}"} ${cumulative}\n`;
  }
  cumulative += s.counts[s.bounds.length];
  out += `${name}_bucket${open}le="+Inf"} ${cumulative}\n`;
  out += `${name}_sum${s.labelText} ${s.sum}\n${name}_count${s.labelText} ${s.count}\n`;
  return out;
}

/** Escapes a label value as the Prometheus text format requires. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(names: readonly string[], values: readonly string[]): string {
  if (names.length !== values.length)
    throw new Error(`metric labels: ${values.length} values for ${names.length} names (${names.join(',')})`);
  if (names.length === 0) return '';
  let out = '{';
  for (let i = 0; i < names.length; i++) out += `${i ? ',' : ''}${names[i]}="${escapeLabel(values[i])}"`;
  return `${out}}`;
}

/** The families of one process, rendered together. */
export class MetricsRegistry {
  private readonly families: Family<ValueSeries | HistogramSeries>[] = [];
  private readonly collectors: (() => void)[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Family<ValueSeries> {
    return this.add(new Family<ValueSeries>(name, 'counter', help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Family<ValueSeries> {
    return this.add(new Family<ValueSeries>(name, 'gauge', help, labelNames));
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[],
    bounds: readonly number[],
  ): Family<HistogramSeries> {
    return this.add(new Family<HistogramSeries>(name, 'histogram', help, labelNames, bounds));
  }

  /** Runs `fn` before each render (to set gauges from current state). */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }

  render(): string {
    for (const fn of this.collectors) fn();
    let out = '';
    for (const f of this.families) out += f.render();
    return out;
  }

  private add<F extends Family<ValueSeries> | Family<HistogramSeries>>(f: F): F {
    if (this.families.some((x) => x.name === f.name)) throw new Error(`metric ${f.name} registered twice`);
    this.families.push(f as Family<ValueSeries | HistogramSeries>);
    return f;
  }
}

/** Exponential bucket bounds: start, start*factor, ... (count bounds). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0, v = start; i < count; i++, v *= factor) out.push(v);
  return out;
}
