/**
 * A small seeded random number generator (sfc32) whose whole state is four uint32 words, so it can be
 * saved in a checkpoint and restored to continue the exact same sequence. Used for shuffling, dropout
 * noise and weight initialisation.
 */

/** The serialisable state of an `Rng`. */
export type RngState = readonly [number, number, number, number];

/**
 * Seeded RNG (sfc32). Deterministic across platforms; the state round-trips through `state()`.
 *
 * @example
 * const rng = Rng.fromSeed(42);
 * const x = rng.uniform();           // [0, 1)
 * const saved = rng.state();
 * const again = Rng.fromState(saved); // continues identically
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  private constructor(s: RngState) {
    [this.a, this.b, this.c, this.d] = s;
  }

  /** A generator seeded from an integer (any seed, including 0, gives a well-mixed state). */
  static fromSeed(seed: number): Rng {
    // splitmix32 expands the seed into four well-mixed words.
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    const r = new Rng([next(), next(), next(), next()]);
    for (let i = 0; i < 12; i++) r.nextU32();
    return r;
  }

  /** Restores a generator from `state()`. */
  static fromState(s: RngState): Rng {
    return new Rng(s);
  }

  /** The current state (copy). */
  state(): RngState {
    return [this.a, this.b, this.c, this.d];
  }

  /** A new independent generator derived from this one (advances this one). */
  fork(): Rng {
    return Rng.fromSeed(this.nextU32() ^ Math.imul(this.nextU32(), 0x27d4eb2d));
  }

  /** Next uint32. */
  nextU32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1) with 32 bits of randomness. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Fills `out` with uniforms in [0, 1) (24-bit, exactly representable in float32). */
  fillUniform(out: Float32Array): void {
    for (let i = 0; i < out.length; i++) out[i] = (this.nextU32() >>> 8) * (1 / 16777216);
  }

  /** Standard normal (Box–Muller; one draw per call so the state stays four words). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Shuffles `arr` in place (Fisher–Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: number }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = t;
    }
    return arr;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}
