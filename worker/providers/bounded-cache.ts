/**
 * A memo of pure results with a size budget, for the simulator's costliest repeated work (token
 * counts of texts, embedding vectors of words). A batch repeats the same system prompt, template
 * and words across thousands of items; recomputing them was most of a million-item batch's time in
 * the simulator. Entries leave oldest-first once the budget is spent — no recency bookkeeping on a
 * hit: the hot entries are put back at once after they go, and a hit stays a single Map lookup.
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, { value: V; cost: number }>();
  private spent = 0;

  /** `budget`: the sum of the entries' costs kept at most (a cost is whatever `get` is told). */
  constructor(private readonly budget: number) {}

  /** The value of `key`, computed by `make` on a miss and kept when `cost` fits the budget at all. */
  get(key: K, cost: number, make: () => V): V {
    const hit = this.entries.get(key);
    if (hit) return hit.value;
    const value = make();
    if (cost > this.budget) return value;
    while (this.spent + cost > this.budget) {
      const [oldest, entry] = this.entries.entries().next().value as [K, { cost: number }];
      this.entries.delete(oldest);
      this.spent -= entry.cost;
    }
    this.entries.set(key, { value, cost });
    this.spent += cost;
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}
