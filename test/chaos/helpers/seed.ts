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

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
