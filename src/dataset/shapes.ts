/**
 * The object classes of the shapes dataset and their rasterisation. Each shape is an inside-test in
 * its own frame (centre at the origin, radius 1, unrotated); a pixel belongs to the shape when its
 * centre (x + 0.5, y + 0.5), rotated and scaled into that frame, is inside. The same test paints
 * the image and makes the mask, so the two agree pixel for pixel.
 */
import type { Prng } from './prng.js';

/** Class names by label of the default task, 1-based in COCO categories (0 is the background). */
export const SHAPE_CLASSES = ['circle', 'rectangle', 'triangle', 'star', 'ring', 'cross'] as const;
/** Shapes the default task never draws: a second task for transfer learning (`--classes`). */
export const EXTRA_SHAPE_CLASSES = ['hexagon', 'heart', 'arrow', 'crescent'] as const;
/** Every shape the generator can draw. */
export const ALL_SHAPE_CLASSES = [...SHAPE_CLASSES, ...EXTRA_SHAPE_CLASSES] as const;
export type ShapeClass = (typeof ALL_SHAPE_CLASSES)[number];

/** Whether `name` is a shape the generator draws. */
export function isShapeClass(name: string): name is ShapeClass {
  return (ALL_SHAPE_CLASSES as readonly string[]).includes(name);
}

/** One object placed in an image. */
export interface ShapeSpec {
  kind: ShapeClass;
  /** Centre in pixels. */
  cx: number;
  cy: number;
  /** Circumradius in pixels. */
  radius: number;
  /** Rotation in radians. */
  angle: number;
  /** Shape-specific proportions in the unit frame (rectangle sides, ring hole, cross arm width,
   * arrow shaft width, crescent bite offset and radius). */
  params: number[];
}

/** Even-odd point-in-polygon; `poly` is [x0, y0, x1, y1, ...]. */
function inPolygon(poly: readonly number[], u: number, v: number): boolean {
  let inside = false;
  const n = poly.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = poly[2 * i], yi = poly[2 * i + 1], xj = poly[2 * j], yj = poly[2 * j + 1];
    if ((yi > v) !== (yj > v) && u < ((xj - xi) * (v - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Vertices of a regular polygon (or a star when `inner` < 1) of circumradius 1, pointing up. */
function radialPolygon(points: number, inner: number): number[] {
  const poly: number[] = [];
  const steps = inner < 1 ? points * 2 : points;
  for (let k = 0; k < steps; k++) {
    const r = inner < 1 && k % 2 === 1 ? inner : 1;
    const a = -Math.PI / 2 + (2 * Math.PI * k) / steps;
    poly.push(r * Math.cos(a), r * Math.sin(a));
  }
  return poly;
}

/** How far past its circumradius a shape may reach, as a fraction of it (the heart's lobes). */
export const HEART_REACH = 1.02;

const TRIANGLE = radialPolygon(3, 1);
const HEXAGON = radialPolygon(6, 1);

/** An arrow pointing along +u with shaft half-width `w`, inside the unit circle. */
function arrowPolygon(w: number): number[] {
  return [-0.9, -w, 0.15, -w, 0.15, -0.6, 0.95, 0, 0.15, 0.6, 0.15, w, -0.9, w];
}

/** The heart curve (x^2 + y^2 - 1)^3 <= x^2 y^3 (y up), scaled and centred on the unit circle: its
 * lobes reach 1.011 (the one shape that passes its circumradius, by 1.1%; see HEART_REACH). */
function inHeart(u: number, v: number): boolean {
  const x = u * 1.3, y = -v * 1.3 + 0.15;
  const a = x * x + y * y - 1;
  return a * a * a - x * x * y * y * y <= 0;
}

/** The inside-test of a shape in its unit frame. */
export function insideTest(spec: ShapeSpec): (u: number, v: number) => boolean {
  const p = spec.params;
  switch (spec.kind) {
    case 'circle':
      return (u, v) => u * u + v * v <= 1;
    case 'rectangle':
      return (u, v) => Math.abs(u) <= p[0] && Math.abs(v) <= p[1];
    case 'triangle':
      return (u, v) => inPolygon(TRIANGLE, u, v);
    case 'star': {
      const star = radialPolygon(5, p[0]);
      return (u, v) => inPolygon(star, u, v);
    }
    case 'ring':
      return (u, v) => {
        const d = u * u + v * v;
        return d <= 1 && d >= p[0] * p[0];
      };
    case 'cross':
      return (u, v) => {
        const au = Math.abs(u), av = Math.abs(v);
        return (au <= 1 && av <= p[0]) || (au <= p[0] && av <= 1);
      };
    case 'hexagon':
      return (u, v) => inPolygon(HEXAGON, u, v);
    case 'heart':
      return inHeart;
    case 'arrow': {
      const arrow = arrowPolygon(p[0]);
      return (u, v) => inPolygon(arrow, u, v);
    }
    case 'crescent':
      // the unit disc less a disc of radius p[1] centred at (p[0], 0)
      return (u, v) => u * u + v * v <= 1 && (u - p[0]) * (u - p[0]) + v * v > p[1] * p[1];
  }
}

/** Draws a random shape of class `kind` with radius in [minRadius, maxRadius] inside a W x H image. */
export function randomShape(rng: Prng, kind: ShapeClass, width: number, height: number, minRadius: number, maxRadius: number): ShapeSpec {
  const radius = rng.uniform(minRadius, maxRadius);
  // Centres may sit near the border so that some objects are cut by the image edge.
  const cx = rng.uniform(0.3 * radius, width - 0.3 * radius);
  const cy = rng.uniform(0.3 * radius, height - 0.3 * radius);
  const angle = rng.uniform(0, 2 * Math.PI);
  let params: number[] = [];
  if (kind === 'rectangle') {
    // Half sides in the unit frame; a square now and then (aspect 1).
    const a = rng.next() < 0.3 ? 1 : rng.uniform(0.35, 1);
    params = [Math.SQRT1_2, Math.SQRT1_2 * a];
  } else if (kind === 'star') params = [rng.uniform(0.38, 0.55)];
  else if (kind === 'ring') params = [rng.uniform(0.45, 0.7)];
  else if (kind === 'cross') params = [rng.uniform(0.2, 0.35)];
  else if (kind === 'arrow') params = [rng.uniform(0.15, 0.3)];
  else if (kind === 'crescent') params = [rng.uniform(0.35, 0.6), rng.uniform(0.75, 0.9)];
  return { kind, cx, cy, radius, angle, params };
}

/**
 * Rasterises a shape into a full-image mask.
 * @returns Uint8Array [H, W] row-major, 1 inside the shape
 */
export function rasterize(spec: ShapeSpec, width: number, height: number): Uint8Array {
  const mask = new Uint8Array(width * height);
  const inside = insideTest(spec);
  const cos = Math.cos(spec.angle), sin = Math.sin(spec.angle), inv = 1 / spec.radius;
  // the window holds every shape (the heart reaches HEART_REACH radii; the others stay inside 1)
  const reach = spec.radius * HEART_REACH;
  const x0 = Math.max(0, Math.floor(spec.cx - reach - 1)), x1 = Math.min(width - 1, Math.ceil(spec.cx + reach + 1));
  const y0 = Math.max(0, Math.floor(spec.cy - reach - 1)), y1 = Math.min(height - 1, Math.ceil(spec.cy + reach + 1));
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - spec.cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - spec.cx;
      // rotate the pixel centre by -angle into the shape's frame, then scale to radius 1
      const u = (cos * dx + sin * dy) * inv, v = (-sin * dx + cos * dy) * inv;
      if (inside(u, v)) mask[y * width + x] = 1;
    }
  }
  return mask;
}
