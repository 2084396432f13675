import { mulberry32 } from "../../../worker/providers/hash.js";

/**
 * The chaos suite's randomness: one seed per run, printed so a failing run can be replayed with
 * `CHAOS_SEED=<seed> npm run test:chaos`.
 */
export function chaosSeed(label: string): number {
  const fromEnv = process.env.CHAOS_SEED;
  const seed = fromEnv && /^\d+$/.test(fromEnv) ? Number(fromEnv) % 2 ** 32 : Math.floor(Math.random() * 2 ** 32);
  process.stdout.write(`[chaos] ${label}: seed ${seed} (replay with CHAOS_SEED=${seed})\n`);
  return seed;
}

/** mulberry32 (a tiny seeded PRNG), so a run replays identically for one seed. */
export const seededRandom = mulberry32;

/**
 * The first seed from `seed` on whose fault draw one of the first `calls` calls faults at `rate`.
 * A batch of a few hundred items makes only a handful of calls to a Message Batches provider (a
 * create, a poll or two, the results), so a plain 30 % draw meets no fault at all in ~6 % of runs
 * and the test would prove nothing; this keeps the draw random at its rate but never empty. It
 * mirrors the fakes' draw: one number per call (a fault below `rate`), one more to pick the kind.
 */
export function seedMeetingFault(seed: number, rate: number, calls: number): number {
  for (let s = seed >>> 0; ; s = (s + 1) >>> 0) {
    const draw = seededRandom(s);
    for (let call = 0; call < calls; call++) {
      if (draw() < rate) return s;
    }
  }
}
