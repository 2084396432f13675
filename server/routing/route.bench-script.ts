// Micro-benchmark: quote 50,000 items over the real seed lanes. Run: npx tsx server/routing/route.bench-script.ts
// Target (design): under 0.5 s on a 2-core machine. Timings, not a test: see design.md §6.
import { performance } from "node:perf_hooks";
import { expandLanes } from "../catalog/lanes.js";
import { loadCatalogFromDisk } from "../catalog/load-catalog.js";
import { explain } from "./explain.js";
import { route } from "./route.js";
import type { RoutingConstraints, RoutingItem } from "./types.js";

const N = 50_000;
const lanes = expandLanes(await loadCatalogFromDisk());

// A deterministic mix: several model lists, tools on some items, long prompts on a few.
let seed = 42;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const kinds: Pick<RoutingItem, "operation" | "models" | "needs_tools" | "hosted_tools">[] = [
  { operation: "responses", models: ["gpt-4o-mini"], needs_tools: false, hosted_tools: [] },
  { operation: "responses", models: ["gpt-4o-mini", "llama-3.3-70b-instruct"], needs_tools: false, hosted_tools: [] },
  { operation: "responses", models: ["llama-3.1-8b-instruct", "gemma-4-e4b-it"], needs_tools: false, hosted_tools: [] },
  { operation: "responses", models: ["claude-haiku-4", "gpt-4.1-mini"], needs_tools: true, hosted_tools: ["web_search"] },
  { operation: "vision", models: ["gpt-4o-mini", "gemini-2.5-flash"], needs_tools: false, hosted_tools: [] },
  { operation: "embeddings", models: ["text-embedding-3-small"], needs_tools: false, hosted_tools: [] },
];
const items: RoutingItem[] = Array.from({ length: N }, (_, index) => {
  const kind = kinds[index % kinds.length]!;
  const long = rand() < 0.01;
  return {
    index,
    customer_item_id: `item-${index}`,
    ...kind,
    input_tokens: long ? 30_000 + Math.floor(rand() * 150_000) : 100 + Math.floor(rand() * 4_000),
    output_tokens: kind.operation === "embeddings" ? 0 : 50 + Math.floor(rand() * 800),
  };
});

const base: RoutingConstraints = {
  routing_mode: "cheapest",
  sla_tier: "standard",
  privacy_tier: "standard",
  allowed_regions: ["global"],
  provider_preferences: { allow_fallbacks: true },
  max_price_micros: null,
};
const scenarios: [string, RoutingConstraints][] = [
  ["cheapest", base],
  ["hybrid", { ...base, routing_mode: "hybrid" }],
  ["sla_aware", { ...base, routing_mode: "sla_aware" }],
  ["public_only", { ...base, routing_mode: "public_only" }],
  ["cheapest no_training eu", { ...base, privacy_tier: "no_training", allowed_regions: ["eu"] }],
  ["hybrid priority", { ...base, routing_mode: "hybrid", sla_tier: "priority" }],
];

const t0 = performance.now();
explain(route(items, base, lanes));
console.log(
  `first call (cold JIT)    ${(performance.now() - t0).toFixed(1).padStart(6)} ms for ${N.toLocaleString("en-US")} items over ${lanes.length} lanes`,
);

for (const [name, c] of scenarios) {
  const times: number[] = [];
  let result = route(items, c, lanes);
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    result = route(items, c, lanes);
    explain(result);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const d = result.decision;
  console.log(
    `${name.padEnd(24)} median ${times[3]!.toFixed(1).padStart(6)} ms  max ${times[6]!.toFixed(1).padStart(6)} ms  ` +
      `(${d.assigned_item_count} routed, ${d.unroutable_item_count} unroutable, ${d.work_unit_count} units, ${d.lanes_considered} lanes)`,
  );
}
