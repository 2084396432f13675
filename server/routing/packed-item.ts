import type { ItemKind, RoutingItem, RoutingItems } from "./types.js";

/**
 * One shared ItemKind per distinct (operation, models, tools). `models` lists must already be
 * shared per distinct list (the item validator does that), so the first level of the lookup is the
 * list itself rather than a joined key built per item.
 */
export class ItemKinds {
  private readonly byModels = new Map<string[], Map<string, ItemKind>>();

  of(operation: ItemKind["operation"], models: string[], needsTools: boolean, hostedTools: string[]): ItemKind {
    let kinds = this.byModels.get(models);
    if (!kinds) this.byModels.set(models, (kinds = new Map()));
    const key = `${operation}\0${needsTools ? 1 : 0}\0${hostedTools.join(",")}`;
    let kind = kinds.get(key);
    if (!kind) kinds.set(key, (kind = { operation, models, needs_tools: needsTools, hosted_tools: hostedTools }));
    return kind;
  }
}

/** Token estimates come from bounded text; a value a column can't hold is a bug upstream. */
function fitsColumn(item: number, name: string, v: number): void {
  if (!(Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff)) throw new RangeError(`item ${item}: ${name} must be an integer in [0, 2^32)`);
}

/**
 * Items as the router sees them, in columns: a manifest position, two token estimates and a kind
 * number per item (16 bytes), what items share held once in their kind. A million-item manifest is
 * routed in one go; as one object per item it held ~75 MB of V8's heap through routing (and the
 * router's per-item grouping key another ~40 MB of garbage), the highest point of a 1M batch's RSS.
 * Ids are kept only when asked: a million are ~40 MB the router needs only to name items it can't
 * route (the large-batch path looks those up afterwards).
 */
export class RoutingColumns implements RoutingItems {
  length = 0;
  private indexes: Uint32Array;
  private inputs: Uint32Array;
  private outputs: Uint32Array;
  private kindIds: Uint32Array;
  private readonly kinds: ItemKind[] = [];
  private readonly kindIdOf = new Map<ItemKind, number>();
  private readonly ids: string[] | null;

  constructor(capacity = 1024, keepIds = true) {
    const n = Math.max(16, capacity);
    this.indexes = new Uint32Array(n);
    this.inputs = new Uint32Array(n);
    this.outputs = new Uint32Array(n);
    this.kindIds = new Uint32Array(n);
    this.ids = keepIds ? [] : null;
  }

  push(index: number, customerItemId: string, kind: ItemKind, inputTokens: number, outputTokens: number): void {
    fitsColumn(index, "index", index);
    fitsColumn(index, "input_tokens", inputTokens);
    fitsColumn(index, "output_tokens", outputTokens);
    if (this.length === this.indexes.length) this.grow();
    let id = this.kindIdOf.get(kind);
    if (id === undefined) {
      id = this.kinds.push(kind) - 1;
      this.kindIdOf.set(kind, id);
    }
    const at = this.length++;
    this.indexes[at] = index;
    this.inputs[at] = inputTokens;
    this.outputs[at] = outputTokens;
    this.kindIds[at] = id;
    this.ids?.push(customerItemId);
  }

  /** Drops the items (the memory goes with the next collection); the kinds stay. */
  clear(): void {
    this.length = 0;
    this.indexes = this.inputs = this.outputs = this.kindIds = new Uint32Array(0);
    if (this.ids) this.ids.length = 0;
  }

  private grow(): void {
    const n = Math.max(16, this.indexes.length * 2);
    const bigger = (a: Uint32Array) => {
      const b = new Uint32Array(n);
      b.set(a);
      return b;
    };
    this.indexes = bigger(this.indexes);
    this.inputs = bigger(this.inputs);
    this.outputs = bigger(this.outputs);
    this.kindIds = bigger(this.kindIds);
  }

  index(pos: number): number {
    return this.indexes[pos]!;
  }
  customerItemId(pos: number): string {
    return this.ids?.[pos] ?? "";
  }
  inputTokens(pos: number): number {
    return this.inputs[pos]!;
  }
  outputTokens(pos: number): number {
    return this.outputs[pos]!;
  }
  kind(pos: number): ItemKind {
    return this.kinds[this.kindIds[pos]!]!;
  }
}

/** Plain RoutingItem objects (tests, volume quotes) seen as RoutingItems: each item is its own kind. */
export class RoutingItemArray implements RoutingItems {
  constructor(private readonly items: readonly RoutingItem[]) {
    for (const it of items) {
      if (
        !Number.isSafeInteger(it.input_tokens) ||
        it.input_tokens < 0 ||
        !Number.isSafeInteger(it.output_tokens) ||
        it.output_tokens < 0
      ) {
        throw new RangeError(`item ${it.index}: token estimates must be non-negative integers`);
      }
    }
  }
  get length(): number {
    return this.items.length;
  }
  index(pos: number): number {
    return this.items[pos]!.index;
  }
  customerItemId(pos: number): string {
    return this.items[pos]!.customer_item_id;
  }
  inputTokens(pos: number): number {
    return this.items[pos]!.input_tokens;
  }
  outputTokens(pos: number): number {
    return this.items[pos]!.output_tokens;
  }
  kind(pos: number): ItemKind {
    return this.items[pos]!;
  }
}

/**
 * `count` items alike (a volume quote: no items, only their number and typical size) without
 * `count` objects.
 */
export class UniformRoutingItems implements RoutingItems {
  constructor(
    readonly length: number,
    private readonly shared: ItemKind,
    private readonly input: number,
    private readonly output: number,
  ) {}
  index(pos: number): number {
    return pos;
  }
  customerItemId(pos: number): string {
    return `estimated-${pos + 1}`;
  }
  inputTokens(): number {
    return this.input;
  }
  outputTokens(): number {
    return this.output;
  }
  kind(): ItemKind {
    return this.shared;
  }
}
