// A small seeded PRNG (mulberry32) so every fuzz failure can be replayed from
// the seed it prints.
export interface Prng {
  readonly seed: number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  bytes(n: number): Uint8Array;
  pick<T>(items: readonly T[]): T;
}

export function prng(seed: number): Prng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return {
    seed,
    int: (n) => Math.floor(next() * n),
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
      return out;
    },
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}

/** The seed for a fuzz run: FUZZ_SEED, or a fresh one (printed by the caller). */
export function fuzzSeed(): number {
  return process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (process.pid << 16)) >>> 0;
}

/** How long a fuzz test runs: FUZZ_SECONDS, or `fallback` seconds (the short CI version). */
export function fuzzSeconds(fallback: number): number {
  return process.env.FUZZ_SECONDS ? Number(process.env.FUZZ_SECONDS) : fallback;
}
