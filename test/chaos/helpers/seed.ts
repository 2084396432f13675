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
