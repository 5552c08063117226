/**
 * A small seeded PRNG (mulberry32) so a dataset is a pure function of its seed: the same seed gives
 * the same images and annotations on every machine (Math.random cannot be seeded).
 */

/** Uniform draws from one 32-bit state. */
export class Prng {
  private state: number;

  /** @param seed any integer; only its low 32 bits matter */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1), 32 bits of mulberry32. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer uniform in [lo, hi] (both included). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** A child generator, so one image's draws do not shift the next image's. */
  fork(): Prng {
    return new Prng(Math.floor(this.next() * 4294967296));
  }
}
