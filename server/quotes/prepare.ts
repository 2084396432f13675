import { toolNeeds, type ManifestItem } from "../manifest/item-schema.js";
import type { CatalogSnapshot } from "../catalog/store.js";
import type { Operation } from "../catalog/types.js";
import { fail } from "../errors.js";
import { jsonPointer } from "../json-pointer.js";
import { ItemKinds, RoutingColumns, UniformRoutingItems } from "../routing/packed-item.js";
import type { RoutingItems } from "../routing/types.js";
import { ItemValidator, type AcceptedItem, type ItemDefaults } from "./item-validator.js";
import { estimateInputTokens, estimateOutputTokens } from "./tokens.js";

export type { ItemDefaults };

export interface PreparedItems {
  items: ManifestItem[];
  routing: RoutingItems;
  tokens: { input: number; output: number };
  sampled: boolean;
}

type FieldError = { path: string; message: string };

/**
 * Validates raw items (schema, input per operation, unique ids, known models) and turns them into
 * what the router needs, with token estimates. Any bad item → 400 listing up to 100 problems.
 */
export async function prepareItems(
  snapshot: CatalogSnapshot,
  raw: unknown[],
  defaults: ItemDefaults,
  base = "items",
): Promise<PreparedItems> {
  const validator = new ItemValidator(snapshot, defaults, { checkDuplicates: true, name: (i) => `${base}[${i}]` });
  const accepted: AcceptedItem[] = [];
  for (let i = 0; i < raw.length && !validator.full; i++) {
    const ok = validator.check(raw[i], i);
    if (ok) accepted.push(ok);
  }
  if (validator.problems.length > 0) {
    const errs = validator.problems.map((p) => ({ path: jsonPointer([base, p.index, ...p.path]), message: p.message }));
    const first = errs[0]!;
    throw fail.invalidRequest(
      `Invalid ${base}: ${first.path}: ${first.message}${errs.length > 1 ? ` (and ${errs.length - 1} more)` : ""}`,
      { location: "body", errors: errs },
    );
  }
  const routing = new RoutingColumns(accepted.length);
  const { tokens, sampled } = await estimateRouting(snapshot, accepted, 0, routing);
  return { items: accepted.map((a) => a.item), routing, tokens, sampled };
}

/**
 * Token estimates of accepted items, and what the router needs of each appended to `routing`
 * (`first` is the manifest position of the first one). Chunks of a stored manifest go through here
 * one at a time, sharing `routing` and `kinds`.
 */
export async function estimateRouting(
  snapshot: CatalogSnapshot,
  accepted: readonly AcceptedItem[],
  first: number,
  routing: RoutingColumns,
  budgetShare = 1,
  kinds = new ItemKinds(),
) {
  const { tokens: inputTokens, sampled } = await estimateInputTokens(
    accepted.map((a) => ({ item: a.item, operation: a.operation, family: snapshot.modelBySlug.get(a.models[0]!)!.family })),
    budgetShare,
  );
  let input = 0;
  let output = 0;
  for (let i = 0; i < accepted.length; i++) {
    const { item, operation, models } = accepted[i]!;
    const out = estimateOutputTokens(item, operation, snapshot.modelBySlug.get(models[0]!));
    input += inputTokens[i]!;
    output += out;
    const tools = toolNeeds(item);
    const kind = kinds.of(operation, models, tools.needs_tools, tools.hosted_tools);
    routing.push(first + i, item.customer_item_id, kind, inputTokens[i]!, out);
  }
  return { tokens: { input, output }, sampled };
}

/**
 * A volume quote without the items: `count` identical items sized from the samples (or the
 * operation's default size when there are none).
 */
export async function prepareVolume(
  snapshot: CatalogSnapshot,
  models: string[],
  count: number,
  operation: Operation,
  samples: unknown[] | undefined,
): Promise<PreparedItems> {
  const errs = models
    .map((m, i) =>
      snapshot.modelBySlug.has(m)
        ? null
        : { path: jsonPointer(["models", i]), message: `unknown model "${m}"; GET /v1/catalog/models lists the models` },
    )
    .filter((e): e is FieldError => e !== null);
  if (errs.length) throw fail.invalidRequest(`Invalid models: ${errs[0]!.path}: ${errs[0]!.message}`, { location: "body", errors: errs });

  let perItemIn: number;
  let perItemOut: number;
  let needs = { needs_tools: false, hosted_tools: [] as string[] };
  if (samples?.length) {
    const sample = await prepareItems(snapshot, samples, { operation, model: models[0] }, "sample_items");
    perItemIn = Math.ceil(sample.tokens.input / sample.items.length);
    perItemOut = Math.ceil(sample.tokens.output / sample.items.length);
    const kinds = Array.from({ length: sample.routing.length }, (_, pos) => sample.routing.kind(pos));
    needs = {
      needs_tools: kinds.some((k) => k.needs_tools),
      hosted_tools: [...new Set(kinds.flatMap((k) => k.hosted_tools))],
    };
  } else {
    // Without samples: a typical short prompt, and the first model's typical reply.
    perItemIn = operation === "embeddings" ? 256 : 500;
    perItemOut = operation === "embeddings" ? 0 : (snapshot.modelBySlug.get(models[0]!)!.typical_output_tokens ?? 400);
  }
  const routing = new UniformRoutingItems(count, { operation, models, ...needs }, perItemIn, perItemOut);
  return { items: [], routing, tokens: { input: perItemIn * count, output: perItemOut * count }, sampled: true };
}
