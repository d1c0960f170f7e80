// A small metrics registry (counters, gauges, histograms with labels) and the
// Prometheus text format 0.0.4 renderer. Collected families are plain data,
// so the Durable Object can hand them to the Worker over RPC, and the Worker
// can add its own before rendering one page.

export type Labels = Readonly<Record<string, string>>;
export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface Sample {
  /** Appended to the family name: '' or, for histograms, '_bucket', '_sum', '_count'. */
  suffix: '' | '_bucket' | '_sum' | '_count';
  labels: Labels;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

const namePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelPattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** One metric with a fixed set of label names; its series are keyed by label values. */
abstract class Metric<S> {
  protected readonly series = new Map<string, { labels: Labels; state: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
  ) {
    if (!namePattern.test(name)) throw new Error(`bad metric name ${name}`);
    for (const l of labelNames) {
      if (!labelPattern.test(l) || l.startsWith('__') || l === 'le') throw new Error(`bad label name ${l} on ${name}`);
    }
  }

  // On every message a node sends or receives: no arrays or closures here.
  protected stateOf(labels: Labels): S {
    const names = this.labelNames;
    let key = '';
    for (let i = 0; i < names.length; i++) {
      const v = labels[names[i]!];
      if (v === undefined) throw new Error(`${this.name}: label ${names[i]} missing`);
      key = i === 0 ? v : `${key}\u0000${v}`;
    }
    let given = 0;
    for (const _ in labels) given++;
    if (given !== names.length) throw new Error(`${this.name}: unexpected labels ${Object.keys(labels).join(',')}`);
    let found = this.series.get(key);
    if (found === undefined) {
      found = { labels: { ...labels }, state: this.initial() };
      this.series.set(key, found);
    }
    return found.state;
  }

  /** Drops every series whose label `name` has `value` (a peer that left the cluster). */
  forget(name: string, value: string): void {
    for (const [key, { labels }] of this.series) if (labels[name] === value) this.series.delete(key);
  }

  protected abstract initial(): S;
  abstract collect(): MetricFamily;
}

/** A metric with one number per series: counters and gauges. */
abstract class ValueMetric extends Metric<{ value: number }> {
  protected abstract readonly type: 'counter' | 'gauge';

  value(labels: Labels = {}): number {
    return this.stateOf(labels).value;
  }

  protected initial() {
    return { value: 0 };
  }

  collect(): MetricFamily {
    const samples = [...this.series.values()].map(({ labels, state }) => ({ suffix: '' as const, labels, value: state.value }));
    return { name: this.name, help: this.help, type: this.type, samples };
  }
}

export class Counter extends ValueMetric {
  protected readonly type = 'counter';

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`${this.name}: a counter only goes up (by ${by})`);
    this.stateOf(labels).value += by;
  }

  /** Makes the series exist at 0, so a scrape shows it before its first event. */
  touch(labels: Labels = {}): void {
    this.stateOf(labels);
  }
}

export class Gauge extends ValueMetric {
  protected readonly type = 'gauge';

  set(value: number, labels: Labels = {}): void {
    this.stateOf(labels).value = value;
  }
}

interface HistogramState {
  /** counts[i]: observations <= bounds[i] and > bounds[i-1]; the last slot is above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramState> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly bounds: readonly number[],
  ) {
    super(name, help, labelNames);
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new Error(`${name}: bucket bounds must increase`);
    }
  }

  observe(value: number, labels: Labels = {}): void {
    const s = this.stateOf(labels);
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  touch(labels: Labels = {}): void {
    this.stateOf(labels);
  }

  protected initial(): HistogramState {
    return { counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
  }

  collect(): MetricFamily {
    const samples: Sample[] = [];
    for (const { labels, state } of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((b, i) => {
        cumulative += state.counts[i]!;
        samples.push({ suffix: '_bucket', labels: { ...labels, le: formatValue(b) }, value: cumulative });
      });
      samples.push({ suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: state.count });
      samples.push({ suffix: '_sum', labels, value: state.sum });
      samples.push({ suffix: '_count', labels, value: state.count });
    }
    return { name: this.name, help: this.help, type: 'histogram', samples };
  }
}

/** Bucket bounds start, start*factor, ... (count of them), as Prometheus' exponentialBuckets. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0, b = start; i < count; i++, b *= factor) out.push(Number(b.toPrecision(6)));
  return out;
}

export class Registry {
  private readonly metrics: { name: string; collect(): MetricFamily }[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, bounds: readonly number[], labelNames: readonly string[] = []): Histogram {
    return this.add(new Histogram(name, help, labelNames, bounds));
  }

  collect(): MetricFamily[] {
    return this.metrics.map((m) => m.collect());
  }

  private add<M extends { name: string; collect(): MetricFamily }>(m: M): M {
    if (this.metrics.some((x) => x.name === m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.push(m);
    return m;
  }
}

/** The content type of the text format this renders. */
export const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';

/** Renders families as Prometheus text format 0.0.4. A name may appear only once. */
export function renderPrometheus(families: readonly MetricFamily[]): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const f of families) {
    if (seen.has(f.name)) throw new Error(`metric family ${f.name} rendered twice`);
    seen.add(f.name);
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) lines.push(`${f.name}${s.suffix}${renderLabels(s.labels)} ${formatValue(s.value)}`);
  }
  return lines.join('\n') + '\n';
}

function renderLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
  return `{${entries.map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
