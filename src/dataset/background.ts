/**
 * Backgrounds of the shapes dataset: linear gradients, smooth value noise, stripes and checkers
 * (the default task), so a detector cannot find objects by "anything that is not a flat colour";
 * and, for other tasks, soft blobs, interfering waves and flat colour.
 */
import type { Prng } from './prng.js';

export type Rgb = [number, number, number];

/** Every background kind, in the order of their names on the command line. */
export const BACKGROUND_KINDS = ['gradient', 'noise', 'stripes', 'checkers', 'blobs', 'waves', 'flat'] as const;
export type BackgroundKind = (typeof BACKGROUND_KINDS)[number];
/** The backgrounds of the default task (and of the bundled model's training set). */
export const DEFAULT_BACKGROUNDS: readonly BackgroundKind[] = ['gradient', 'noise', 'stripes', 'checkers'];

/** Whether `name` is a background kind. */
export function isBackgroundKind(name: string): name is BackgroundKind {
  return (BACKGROUND_KINDS as readonly string[]).includes(name);
}

/** A random colour, each channel in [lo, hi]. */
export function randomColor(rng: Prng, lo = 0, hi = 255): Rgb {
  return [rng.int(lo, hi), rng.int(lo, hi), rng.int(lo, hi)];
}

function mix(a: Rgb, b: Rgb, t: number, out: Float32Array, o: number): void {
  out[o] = a[0] + (b[0] - a[0]) * t;
  out[o + 1] = a[1] + (b[1] - a[1]) * t;
  out[o + 2] = a[2] + (b[2] - a[2]) * t;
}

/** Smooth noise in [0, 1]: a coarse random grid, bilinearly upsampled. */
function valueNoise(rng: Prng, width: number, height: number, cell: number): Float32Array {
  const gw = Math.ceil(width / cell) + 2, gh = Math.ceil(height / cell) + 2;
  const grid = new Float32Array(gw * gh);
  for (let i = 0; i < grid.length; i++) grid[i] = rng.next();
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const gy = y / cell, iy = Math.floor(gy), fy = gy - iy;
    for (let x = 0; x < width; x++) {
      const gx = x / cell, ix = Math.floor(gx), fx = gx - ix;
      const a = grid[iy * gw + ix], b = grid[iy * gw + ix + 1], c = grid[(iy + 1) * gw + ix], d = grid[(iy + 1) * gw + ix + 1];
      out[y * width + x] = (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
    }
  }
  return out;
}

/**
 * Paints a random background of one of `kinds` (each equally likely).
 * @returns Float32Array [H, W, 3] RGB in [0, 255] (unclamped until the image is written)
 */
export function drawBackground(rng: Prng, width: number, height: number, kinds: readonly BackgroundKind[] = DEFAULT_BACKGROUNDS): Float32Array {
  const out = new Float32Array(width * height * 3);
  const a = randomColor(rng), b = randomColor(rng);
  const kind = kinds[rng.int(0, kinds.length - 1)];
  if (kind === 'gradient') {
    // linear gradient along a random direction
    const t = rng.uniform(0, 2 * Math.PI), dx = Math.cos(t), dy = Math.sin(t);
    const span = Math.abs(dx) * width + Math.abs(dy) * height;
    const base = Math.min(0, dx * width) + Math.min(0, dy * height);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) mix(a, b, (dx * x + dy * y - base) / span, out, (y * width + x) * 3);
  } else if (kind === 'noise') {
    const noise = valueNoise(rng, width, height, rng.int(8, 48));
    for (let i = 0; i < width * height; i++) mix(a, b, noise[i], out, i * 3);
  } else if (kind === 'stripes') {
    // soft stripes at a random angle and period
    const t = rng.uniform(0, Math.PI), dx = Math.cos(t), dy = Math.sin(t), period = rng.uniform(6, 40);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) mix(a, b, 0.5 + 0.5 * Math.sin((2 * Math.PI * (dx * x + dy * y)) / period), out, (y * width + x) * 3);
    }
  } else if (kind === 'checkers') {
    const cell = rng.int(6, 32);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) mix(a, b, (Math.floor(x / cell) + Math.floor(y / cell)) % 2 === 0 ? 0.2 : 0.8, out, (y * width + x) * 3);
    }
  } else if (kind === 'blobs') {
    // colour a, overlaid with soft discs of random colours and sizes
    for (let i = 0; i < width * height; i++) mix(a, a, 0, out, i * 3);
    const count = rng.int(3, 9), short = Math.min(width, height);
    for (let k = 0; k < count; k++) {
      const c = randomColor(rng), bx = rng.uniform(0, width), by = rng.uniform(0, height), r = rng.uniform(0.1, 0.5) * short;
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const d = Math.hypot(x - bx, y - by) / r;
          if (d >= 1) continue;
          const o = (y * width + x) * 3, t = 0.7 * (1 - d * d);
          out[o] += (c[0] - out[o]) * t; out[o + 1] += (c[1] - out[o + 1]) * t; out[o + 2] += (c[2] - out[o + 2]) * t;
        }
      }
    }
  } else if (kind === 'waves') {
    // three plane waves of random direction and period, summed: interference patterns
    const waves = [0, 1, 2].map(() => {
      const t = rng.uniform(0, 2 * Math.PI);
      return { dx: Math.cos(t), dy: Math.sin(t), k: (2 * Math.PI) / rng.uniform(10, 80), phase: rng.uniform(0, 2 * Math.PI) };
    });
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (const w of waves) s += Math.sin(w.k * (w.dx * x + w.dy * y) + w.phase);
        mix(a, b, 0.5 + s / 6, out, (y * width + x) * 3);
      }
    }
  } else {
    for (let i = 0; i < width * height; i++) mix(a, a, 0, out, i * 3);
  }
  return out;
}
