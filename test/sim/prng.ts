// The simulator's own pseudo-random generator (xoshiro128** seeded through
// splitmix32). It lives here, not in a library, so that an upgrade of Node or
// of a dependency can never change the sequence a seed produces: a seed
// printed today must replay the same run tomorrow.
//
// Probabilities are integer ratios (`{ numerator, denominator }`), never
// floats, so a rate printed in a report is exactly the rate that was used.

export interface Ratio {
  numerator: number;
  denominator: number;
}

export function ratio(numerator: number, denominator: number): Ratio {
  if (!Number.isInteger(numerator) || !Number.isInteger(denominator) || denominator <= 0 || numerator < 0) {
    throw new Error(`invalid ratio ${numerator}/${denominator}`);
  }
  return { numerator, denominator };
}

export function formatRatio(r: Ratio): string {
  return `${r.numerator}/${r.denominator}`;
}

const TWO_POW_32 = 0x1_0000_0000;

/** One splitmix32 step: turns a counter into a well-mixed 32-bit word. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed` is any non-negative safe integer; both 32-bit halves feed every word of the state. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative safe integer, got ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    // A splitmix32 stream keyed by both halves fills the state.
    let x = splitmix32(lo ^ splitmix32(hi ^ 0x6a09e667));
    const word = () => {
      x = (x + 0x9e3779b9) | 0;
      return splitmix32(x);
    };
    this.s0 = word();
    this.s1 = word();
    this.s2 = word();
    this.s3 = word();
    // xoshiro's state must not be all zero.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform integer in [0, n). Rejection sampling keeps it unbiased. */
  below(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) throw new Error(`below(${n}): need an integer in [1, 2^32]`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** A uniform integer in [lo, hi], both inclusive. */
  between(lo: number, hi: number): number {
    if (hi < lo) throw new Error(`between(${lo}, ${hi}): empty range`);
    return lo + this.below(hi - lo + 1);
  }

  /** True with probability `r`. Draws exactly one number unless the ratio is 0 or 1. */
  chance(r: Ratio): boolean {
    if (r.numerator === 0) return false;
    if (r.numerator >= r.denominator) return true;
    return this.below(r.denominator) < r.numerator;
  }

  /** A float in [0, 1) with 32 random bits: the shape the core's `random` expects. */
  float(): number {
    return this.nextU32() / TWO_POW_32;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty array');
    return xs[this.below(xs.length)] as T;
  }

  /** Picks by integer weight: `weights[i]` out of their sum. */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    if (total <= 0) throw new Error('weighted: all weights are zero');
    let x = this.below(total);
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] as number;
      if (x < w) return i;
      x -= w;
    }
    throw new Error('unreachable: weighted overran');
  }

  /** Fisher-Yates, in place. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const tmp = xs[i] as T;
      xs[i] = xs[j] as T;
      xs[j] = tmp;
    }
    return xs;
  }

  /**
   * An independent generator seeded from this one. Each component (network,
   * clients, every node) gets its own stream, so one component drawing more
   * numbers does not shift every other component's draws.
   */
  fork(): Prng {
    const hi = this.nextU32() & 0x1f_ffff; // keep the seed a safe integer (53 bits)
    return new Prng(hi * TWO_POW_32 + this.nextU32());
  }
}
