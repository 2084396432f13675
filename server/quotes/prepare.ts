import { candidateModels, checkItemInput, itemSchema, operationOf, toolNeeds, type ManifestItem } from "../manifest/item-schema.js";
import type { CatalogSnapshot } from "../catalog/store.js";
import type { Operation } from "../catalog/types.js";
import { fastNative, isObj } from "../files/manifest-line.js";
import { fail } from "../errors.js";
import { jsonPointer } from "../json-pointer.js";
import type { RoutingItem } from "../routing/types.js";
import { unstorableValue } from "../text-guard.js";
import { estimateInputTokens, estimateOutputTokens } from "./tokens.js";

const MAX_LISTED_ERRORS = 100;

export interface ItemDefaults {
  operation?: Operation;
  model?: string;
}

export interface PreparedItems {
  items: ManifestItem[];
  routing: RoutingItem[];
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
  const errs: FieldError[] = [];
  const items: ManifestItem[] = [];
  const operations: Operation[] = [];
  const models: string[][] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < raw.length && errs.length < MAX_LISTED_ERRORS; i++) {
    // The common shapes pass a hand-written check that accepts exactly what zod would (see
    // manifest-line.ts); anything else gets zod's full validation and its error paths.
    const fast = isObj(raw[i]) ? fastNative(raw[i] as Record<string, unknown>, defaults.operation) : undefined;
    if (fast) {
      accept(i, fast.item, fast.operation);
      continue;
    }
    const parsed = itemSchema.safeParse(raw[i]);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        errs.push({ path: jsonPointer([base, i, ...(issue.path as (string | number)[])]), message: issue.message });
      continue;
    }
    const item = parsed.data;
    const operation = operationOf(item, defaults.operation);
    const issues = checkItemInput(item, operation);
    for (const issue of issues) errs.push({ path: jsonPointer([base, i, ...issue.path]), message: issue.message });
    if (issues.length === 0) accept(i, item, operation);
  }
  function accept(i: number, item: ManifestItem, operation: Operation) {
    const unstorable = unstorableValue(item);
    if (unstorable) errs.push({ path: jsonPointer([base, i, ...unstorable.path]), message: unstorable.message });
    const first = seen.get(item.customer_item_id);
    if (first !== undefined)
      errs.push({
        path: jsonPointer([base, i, "customer_item_id"]),
        message: `duplicate of ${base}[${first}]: customer_item_id must be unique`,
      });
    else seen.set(item.customer_item_id, i);
    const candidates = candidateModels(item, defaults.model);
    if (candidates.length === 0)
      errs.push({ path: jsonPointer([base, i, "model"]), message: "no model: set `model` on the item or the manifest" });
    for (const m of candidates) {
      if (!snapshot.modelBySlug.has(m)) {
        errs.push({
          path: jsonPointer([base, i, item.model === m ? "model" : "model_options"]),
          message: `unknown model "${m}"; GET /v1/catalog/models lists the models`,
        });
      }
    }
    items.push(item);
    operations.push(operation);
    models.push(candidates);
  }
  if (errs.length > 0) {
    const first = errs[0]!;
    throw fail.invalidRequest(
      `Invalid ${base}: ${first.path}: ${first.message}${errs.length > 1 ? ` (and ${errs.length - 1} more)` : ""}`,
      {
        location: "body",
        errors: errs.slice(0, MAX_LISTED_ERRORS),
      },
    );
  }

  const { tokens: inputTokens, sampled } = await estimateInputTokens(
    items.map((item, i) => ({ item, operation: operations[i]!, family: snapshot.modelBySlug.get(models[i]![0]!)!.family })),
  );
  const routing: RoutingItem[] = [];
  let input = 0;
  let output = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const out = estimateOutputTokens(item, operations[i]!, snapshot.modelBySlug.get(models[i]![0]!));
    input += inputTokens[i]!;
    output += out;
    routing.push({
      index: i,
      customer_item_id: item.customer_item_id,
      operation: operations[i]!,
      models: models[i]!,
      input_tokens: inputTokens[i]!,
      output_tokens: out,
      ...toolNeeds(item),
    });
  }
  return { items, routing, tokens: { input, output }, sampled };
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
    needs = {
      needs_tools: sample.routing.some((r) => r.needs_tools),
      hosted_tools: [...new Set(sample.routing.flatMap((r) => r.hosted_tools))],
    };
  } else {
    // Without samples: a typical short prompt, and the first model's typical reply.
    perItemIn = operation === "embeddings" ? 256 : 500;
    perItemOut = operation === "embeddings" ? 0 : (snapshot.modelBySlug.get(models[0]!)!.typical_output_tokens ?? 400);
  }
  const routing: RoutingItem[] = Array.from({ length: count }, (_, i) => ({
    index: i,
    customer_item_id: `estimated-${i + 1}`,
    operation,
    models,
    input_tokens: perItemIn,
    output_tokens: perItemOut,
    ...needs,
  }));
  return { items: [], routing, tokens: { input: perItemIn * count, output: perItemOut * count }, sampled: true };
}
