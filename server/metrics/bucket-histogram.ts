import type { Metric, Registry } from "prom-client";

/** One labelled series of a BucketHistogram: keep it and observe into it without a lookup. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

interface ExportedValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A Prometheus histogram, exposed through a prom-client registry like any of its metrics, but
 * recorded with a bucket search and three additions into a series resolved once. prom-client's own
 * Histogram validates and hashes the label object on every observation (about a microsecond), which
 * the request timer paid on every poll. Cumulative buckets, `_sum` and `_count` are made at scrape.
 */
export class BucketHistogram<L extends string> {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    private readonly bounds: readonly number[],
    registers: readonly Registry[],
  ) {
    // The registry reads name, help, type, aggregator and get(); prom-client's types only list its own classes.
    for (const registry of registers) registry.registerMetric(this as unknown as Metric);
  }

  /** The series of these label values, made on first use. */
  seriesOf(labels: Readonly<Record<L, string>>): HistogramSeries {
    const key = this.labelNames.map((n) => labels[n]).join("\u0000");
    let s = this.series.get(key);
    if (!s) {
      const own: Record<string, string> = {};
      for (const n of this.labelNames) own[n] = labels[n];
      this.series.set(key, (s = new HistogramSeries(own, this.bounds)));
    }
    return s;
  }

  /** Observes `value` in the series of `labels` (looked up each time: hot paths keep the series instead). */
  observe(labels: Readonly<Record<L, string>>, value: number): void {
    this.seriesOf(labels).observe(value);
  }

  /** What prom-client's Histogram.get() gives, for the registry to render. */
  async get() {
    const values: ExportedValue[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le }, value: cumulative });
      });
      values.push(
        { metricName: `${this.name}_bucket`, labels: { ...s.labels, le: "+Inf" }, value: s.count },
        { metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum },
        { metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Zeroes every series in place: callers may hold them. */
  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
