import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { BucketHistogram } from "./bucket-histogram.js";

const BOUNDS = [0.001, 0.01, 0.1, 1];
const LABELS = ["method", "route"] as const;

/** The exposition's sample lines, sorted, with each line's labels in one order. */
function samples(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(l)!;
      const labels = (m[2] ?? "").split(",").filter(Boolean).sort().join(",");
      return `${m[1]}{${labels}} ${m[3]}`;
    })
    .sort();
}

describe("BucketHistogram", () => {
  it("scrapes as prom-client's Histogram would for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new BucketHistogram("req_seconds", "Request time.", LABELS, BOUNDS, [ours]);
    const reference = new Histogram({
      name: "req_seconds",
      help: "Request time.",
      labelNames: LABELS,
      buckets: BOUNDS,
      registers: [theirs],
    });
    const poll = fast.seriesOf({ method: "GET", route: "/v1/batches/:id" });
    // Values on the bounds too: a bucket counts what is less than or equal to its bound.
    for (const v of [0.0005, 0.001, 0.004, 0.01, 0.5, 1, 3]) {
      poll.observe(v);
      reference.observe({ method: "GET", route: "/v1/batches/:id" }, v);
    }
    fast.observe({ method: "POST", route: "/v1/batches" }, 0.02);
    reference.observe({ method: "POST", route: "/v1/batches" }, 0.02);

    const text = await ours.metrics();
    expect(text).toContain("# TYPE req_seconds histogram");
    expect(text).toContain("# HELP req_seconds Request time.");
    expect(samples(text)).toEqual(samples(await theirs.metrics()));
  });

  it("keeps the series a caller holds through a reset", async () => {
    const registry = new Registry();
    const h = new BucketHistogram("t_seconds", "T.", ["route"] as const, BOUNDS, [registry]);
    const held = h.seriesOf({ route: "/x" });
    held.observe(0.5);
    registry.resetMetrics();
    held.observe(0.05);
    expect(samples(await registry.metrics())).toContain('t_seconds_count{route="/x"} 1');
  });
});
