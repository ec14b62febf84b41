/**
 * A small deterministic PRNG (mulberry32) so that every fuzz run can be replayed from its seed;
 * `Math.random` would make a failure impossible to reproduce.
 */
export interface Rng {
  /** A uint32. */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Buffer;
  /** A new generator derived from this one (a sub-stream for one case). */
  fork(): Rng;
}

export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const rng: Rng = {
    next,
    int: (n) => (n <= 0 ? 0 : next() % n),
    chance: (p) => next() / 0x1_0000_0000 < p,
    pick: (items) => items[next() % items.length]!,
    bytes: (n) => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = next() & 0xff;
      return b;
    },
    fork: () => createRng(next()),
  };
  return rng;
}

/** Parses `--seed` style input: decimal or 0x-hex. */
export function parseSeed(text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`invalid seed ${JSON.stringify(text)}`);
  return n >>> 0;
}
