/**
 * Seeded generators for the contract's property tests: valid values drawn across each rule's
 * whole alphabet and length range, and arbitrary strings that parsers must refuse cleanly.
 * A failure names its seed, so it replays.
 */

/** Deterministic PRNG (xorshift32). */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

export type Rng = () => number;

export function int(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

export function pick(rng: Rng, chars: string): string {
  return chars[int(rng, 0, chars.length - 1)] ?? '';
}

function draw(rng: Rng, chars: string, count: number): string {
  let s = '';
  for (let i = 0; i < count; i++) s += pick(rng, chars);
  return s;
}

/** Lengths skewed to the edges (1, 2, the maximum), where rules usually break. */
function length(rng: Rng, max: number): number {
  const r = rng();
  if (r < 0.1) return 1;
  if (r < 0.2) return max;
  if (r < 0.3) return 2;
  return int(rng, 1, Math.min(max, 24));
}

const LOWER_DIGITS = 'abcdefghijklmnopqrstuvwxyz0123456789';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A DNS label: ends are letters or digits, the middle may hold `-`. */
export function appName(rng: Rng): string {
  const n = length(rng, 63);
  if (n === 1) return pick(rng, LOWER_DIGITS);
  return pick(rng, LOWER_DIGITS) + draw(rng, `${LOWER_DIGITS}-`, n - 2) + pick(rng, LOWER_DIGITS);
}

export function processType(rng: Rng): string {
  return pick(rng, LOWER_DIGITS) + draw(rng, `${LOWER_DIGITS}-_`, length(rng, 63) - 1);
}

export function podName(rng: Rng): string {
  const n = length(rng, 253);
  if (n === 1) return pick(rng, LOWER_DIGITS);
  return pick(rng, LOWER_DIGITS) + draw(rng, `${LOWER_DIGITS}-.`, n - 2) + pick(rng, LOWER_DIGITS);
}

export function requestId(rng: Rng): string {
  return draw(rng, BASE64URL, length(rng, 64));
}

/** Emails and worse: any printable character, `:` and `@` included, non-ASCII too. */
export function keyIdUser(rng: Rng): string {
  return draw(rng, `${BASE64URL}@.:+ é漢`, length(rng, 80));
}

/** Anything, control characters and the separators included. */
export function anyString(rng: Rng): string {
  return draw(rng, `${LOWER_DIGITS}AZ:=.-_ @\n\x00é`, int(rng, 0, 40));
}

/** Runs `check` on `count` seeds; the assertion message names the failing seed. */
export function forSeeds(count: number, check: (rng: Rng, seed: number) => void): void {
  for (let seed = 1; seed <= count; seed++) {
    try {
      check(prng(seed * 2_654_435_761), seed);
    } catch (err) {
      (err as Error).message = `seed ${seed}: ${(err as Error).message}`;
      throw err;
    }
  }
}
