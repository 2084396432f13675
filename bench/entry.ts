/**
 * One benchmark of `npm run bench`. Each entry starts what it needs (bench/harness.ts gives the
 * real platform on a fresh embedded PostgreSQL) and reports figures; run.ts prints them beside their
 * targets as one table and saves them to bench/results/latest.json.
 */
export interface Figure {
  /** What was measured, e.g. "median per quote". */
  name: string;
  value: number;
  unit: string;
  /** The target, when there is one: the figure passes when `value op target`. */
  target?: { op: "<=" | ">="; value: number };
}

export interface BenchOutcome {
  /** One sentence of context (sizes, states) printed under the table. */
  detail: string;
  figures: Figure[];
}

export interface BenchEntry {
  name: string;
  /** What the entry measures, for the table's first column. */
  title: string;
  run(): Promise<BenchOutcome>;
  /**
   * Node flags of the entry's process (it runs the platform in-process), e.g. a heap ceiling: the
   * table shows them beside the entry, since they are part of what was measured.
   */
  nodeFlags?: string[];
  /** Environment of the entry's process beyond the bench's own (e.g. allocator settings); shown beside it too. */
  env?: Record<string, string>;
}

export function meets(f: Figure): boolean | null {
  if (!f.target) return null;
  return f.target.op === "<=" ? f.value <= f.target.value : f.value >= f.target.value;
}
