/**
 * One image of the shapes dataset: a background, then objects painted in order, each later object
 * occluding the earlier ones. The annotation of an object is its VISIBLE part (the pixels where it
 * is the top-most object); objects left with fewer than `minVisibleArea` pixels are dropped from
 * the annotations, as COCO does not label what cannot be seen.
 */
import { type BackgroundKind, DEFAULT_BACKGROUNDS, drawBackground, randomColor, type Rgb } from './background.js';
import type { Prng } from './prng.js';
import { SHAPE_CLASSES, type ShapeClass, randomShape, rasterize, type ShapeSpec } from './shapes.js';

/** How scenes are drawn. */
export interface SceneOptions {
  width: number;
  height: number;
  /** Objects painted per image, inclusive range. */
  minObjects: number;
  maxObjects: number;
  /** Circumradius range as a fraction of the short side. */
  minRadius: number;
  maxRadius: number;
  /** Visible parts smaller than this (pixels) are not annotated. */
  minVisibleArea: number;
  /** Standard deviation of the per-pixel sensor noise, in 0..255 units. */
  noise: number;
  /** The classes drawn, label k + 1 for classes[k] (default: SHAPE_CLASSES). */
  classes: readonly ShapeClass[];
  /** The background kinds drawn, one picked per image (default: DEFAULT_BACKGROUNDS). */
  backgrounds: readonly BackgroundKind[];
}

export const sceneDefaults: Omit<SceneOptions, 'width' | 'height'> = {
  minObjects: 1,
  maxObjects: 7,
  minRadius: 0.06,
  maxRadius: 0.2,
  minVisibleArea: 40,
  noise: 6,
  classes: SHAPE_CLASSES,
  backgrounds: DEFAULT_BACKGROUNDS,
};

/** An annotated object: its class (1-based label) and visible mask. */
export interface SceneObject {
  label: number;
  /** Position in the drawing order: objects drawn later occlude this one. */
  order: number;
  shape: ShapeSpec;
  /** Uint8Array [H, W] row-major, 1 where the object is visible. */
  mask: Uint8Array;
}

export interface Scene {
  width: number;
  height: number;
  /** Uint8Array [H, W, 3] RGB. */
  rgb: Uint8Array;
  /** Annotated objects, in drawing order. */
  objects: SceneObject[];
  /** Every shape drawn, in order, including those left unannotated because too little was visible. */
  drawn: ShapeSpec[];
}

function colorDistance(a: Rgb, b: Rgb): number {
  return Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]);
}

/** A colour that differs enough from the background under the object to be seen. */
function objectColor(rng: Prng, canvas: Float32Array, mask: Uint8Array): Rgb {
  const mean: Rgb = [0, 0, 0];
  let n = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    mean[0] += canvas[3 * i]; mean[1] += canvas[3 * i + 1]; mean[2] += canvas[3 * i + 2];
    n++;
  }
  if (n > 0) for (let c = 0; c < 3; c++) mean[c] /= n;
  let color = randomColor(rng);
  for (let tries = 0; tries < 8 && colorDistance(color, mean) < 120; tries++) color = randomColor(rng);
  return color;
}

/** Fills `mask` on the canvas with a colour shaded by a soft linear gradient. */
function paintShape(rng: Prng, canvas: Float32Array, mask: Uint8Array, shape: ShapeSpec, color: Rgb, width: number): void {
  const t = rng.uniform(0, 2 * Math.PI), gx = Math.cos(t), gy = Math.sin(t), strength = rng.uniform(0, 40);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const x = i % width, y = (i - x) / width;
    const shade = (strength * (gx * (x - shape.cx) + gy * (y - shape.cy))) / shape.radius;
    canvas[3 * i] = color[0] + shade; canvas[3 * i + 1] = color[1] + shade; canvas[3 * i + 2] = color[2] + shade;
  }
}

/** Adds Gaussian-ish noise (sum of uniforms) and rounds to bytes. */
function toBytes(rng: Prng, canvas: Float32Array, sigma: number): Uint8Array {
  const rgb = new Uint8Array(canvas.length);
  const k = sigma * 2; // (u1 + u2 - 1) has std 0.408; 2 * 0.408 * sigma ~ 0.8 sigma, close enough
  for (let i = 0; i < canvas.length; i++) {
    const v = canvas[i] + k * (rng.next() + rng.next() - 1);
    rgb[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
  return rgb;
}

/** Draws one scene; a pure function of the generator's state and the options. */
export function drawScene(rng: Prng, options: SceneOptions): Scene {
  const { width, height } = options;
  const canvas = drawBackground(rng, width, height, options.backgrounds);
  const classes = options.classes;
  const short = Math.min(width, height);
  const count = rng.int(options.minObjects, options.maxObjects);
  // owner[i]: index + 1 of the top-most object at pixel i (0: background)
  const owner = new Uint16Array(width * height);
  const shapes: ShapeSpec[] = [];
  for (let k = 0; k < count; k++) {
    const shape = randomShape(rng, rng.pick(classes), width, height, options.minRadius * short, options.maxRadius * short);
    const mask = rasterize(shape, width, height);
    paintShape(rng, canvas, mask, shape, objectColor(rng, canvas, mask), width);
    for (let i = 0; i < mask.length; i++) if (mask[i]) owner[i] = k + 1;
    shapes.push(shape);
  }
  const objects: SceneObject[] = [];
  for (let k = 0; k < count; k++) {
    const mask = new Uint8Array(width * height);
    let area = 0;
    for (let i = 0; i < owner.length; i++) if (owner[i] === k + 1) { mask[i] = 1; area++; }
    if (area >= options.minVisibleArea) objects.push({ label: classes.indexOf(shapes[k].kind) + 1, order: k, shape: shapes[k], mask });
  }
  return { width, height, rgb: toBytes(rng, canvas, options.noise), objects, drawn: shapes };
}
