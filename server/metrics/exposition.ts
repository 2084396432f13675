import type { Registry } from "prom-client";
import { processRegistry } from "./process-metrics.js";

/** One scrape: this process's metrics, then `scrape`'s database gauges (if any), in the text format. */
export async function renderMetrics(scrape?: Registry): Promise<{ contentType: string; body: string }> {
  const parts = await Promise.all([processRegistry.metrics(), scrape?.metrics() ?? Promise.resolve("")]);
  return { contentType: processRegistry.contentType, body: parts.join("") };
}
