import type { CatalogSnapshot } from "../catalog/store.js";
import type { Operation } from "../catalog/types.js";
import { fastNative, isObj } from "../files/manifest-line.js";
import { candidateModels, checkItemInput, itemSchema, operationOf, type ManifestItem } from "../manifest/item-schema.js";
import { unstorableValue } from "../text-guard.js";

export const MAX_LISTED_ERRORS = 100;

export interface ItemDefaults {
  operation?: Operation;
  model?: string;
}

/** A problem of the item at manifest position `index`, at `path` inside it. */
export interface ItemProblem {
  index: number;
  path: (string | number)[];
  message: string;
}

export interface AcceptedItem {
  item: ManifestItem;
  operation: Operation;
  /** Candidate model slugs, in preference order; one shared array per distinct list. */
  models: string[];
}

/**
 * The checks every manifest item passes before it is priced or stored — schema, input per
 * operation, storable text, unique ids, known models — one item at a time, so an array of inline
 * items and a million-line stored manifest read in chunks go through the same code. It keeps the
 * first 100 problems; `full` says when to stop looking.
 */
export class ItemValidator {
  readonly problems: ItemProblem[] = [];
  private readonly seen = new Map<string, number>();
  private readonly modelLists = new Map<string, string[]>();

  constructor(
    private readonly snapshot: CatalogSnapshot,
    private readonly defaults: ItemDefaults,
    private readonly options: {
      /** Off for a stored manifest: its upload already refused duplicate ids (and a million-entry map costs ~100 MB). */
      checkDuplicates: boolean;
      /** How a message names another item, e.g. `items[3]`. */
      name: (index: number) => string;
    } = { checkDuplicates: true, name: (i) => `item ${i}` },
  ) {}

  get full(): boolean {
    return this.problems.length >= MAX_LISTED_ERRORS;
  }

  /** The normalised item, or null when it has problems (recorded). */
  check(raw: unknown, index: number): AcceptedItem | null {
    const before = this.problems.length;
    // The common shapes pass a hand-written check that accepts exactly what zod would (see
    // manifest-line.ts); anything else gets zod's full validation and its error paths.
    const fast = isObj(raw) ? fastNative(raw, this.defaults.operation) : undefined;
    let item: ManifestItem;
    let operation: Operation;
    if (fast) {
      item = fast.item;
      operation = fast.operation;
    } else {
      const parsed = itemSchema.safeParse(raw);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) this.add(index, issue.path as (string | number)[], issue.message);
        return null;
      }
      item = parsed.data;
      operation = operationOf(item, this.defaults.operation);
      const issues = checkItemInput(item, operation);
      for (const issue of issues) this.add(index, issue.path as (string | number)[], issue.message);
      if (issues.length > 0) return null;
    }
    const unstorable = unstorableValue(item);
    if (unstorable) this.add(index, unstorable.path as (string | number)[], unstorable.message);
    if (this.options.checkDuplicates) {
      const first = this.seen.get(item.customer_item_id);
      if (first !== undefined)
        this.add(index, ["customer_item_id"], `duplicate of ${this.options.name(first)}: customer_item_id must be unique`);
      else this.seen.set(item.customer_item_id, index);
    }
    const candidates = candidateModels(item, this.defaults.model);
    if (candidates.length === 0) this.add(index, ["model"], "no model: set `model` on the item or the manifest");
    for (const m of candidates) {
      if (!this.snapshot.modelBySlug.has(m))
        this.add(index, [item.model === m ? "model" : "model_options"], `unknown model "${m}"; GET /v1/catalog/models lists the models`);
    }
    if (this.problems.length > before) return null;
    return { item, operation, models: this.shared(candidates) };
  }

  private add(index: number, path: (string | number)[], message: string) {
    if (this.problems.length < MAX_LISTED_ERRORS) this.problems.push({ index, path, message });
  }

  /** One array per distinct candidate list: a million items usually name a handful of lists. */
  private shared(models: string[]): string[] {
    const key = models.join("\u0001");
    let list = this.modelLists.get(key);
    if (!list) this.modelLists.set(key, (list = models));
    return list;
  }
}
