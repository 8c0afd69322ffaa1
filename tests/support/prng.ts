/**
 * A small seeded PRNG (mulberry32) for tests whose random moments must be replayable:
 * print the seed, and the same seed gives the same sequence.
 * @module
 */

/** Returns a generator of floats in [0, 1) fully determined by `seed` (a 32-bit integer). */
export function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
