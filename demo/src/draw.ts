/**
 * The annotated image: translucent per-instance masks, box outlines and "class score" labels
 * over the image, drawn from one detect() result at the page's thresholds, so moving a slider
 * re-draws without running the network. Masks come from detect as probabilities over each
 * detection's box window; a pixel is in the mask when its probability > the mask threshold,
 * compared in float32 as the library (and torchvision) compare.
 */
import type { Detection, DetectionResult, ProbabilityMask } from 'resdet';

/** Distinct, saturated colours (Tableau 10, as resdet's CLI previews), by detection index. */
export const PALETTE: ReadonlyArray<readonly [number, number, number]> = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];

export const colourOf = (index: number) => PALETTE[index % PALETTE.length];
export const cssColour = (index: number, alpha = 1) => `rgba(${colourOf(index).join(', ')}, ${alpha})`;

/** What is on screen: the image, the last result, the thresholds and the highlighted detection. */
export interface Scene {
  image: CanvasImageSource;
  width: number;
  height: number;
  result: DetectionResult;
  scoreThreshold: number;
  maskThreshold: number;
  /** Index into result.detections, or null. */
  highlight: number | null;
  /** Label text height in image pixels (the page sizes it for the screen); default from the image size. */
  labelSize?: number;
}

/** A binary mask over its box window, at one threshold. */
export interface WindowBits { left: number; top: number; width: number; height: number; data: Uint8Array }

const bitsCache = new WeakMap<Detection, { threshold: number; bits: WindowBits }>();

/** The detection's mask at `threshold` (probability > threshold in float32), or undefined without a mask. */
export function maskBits(d: Detection, threshold: number): WindowBits | undefined {
  const mask = d.mask as ProbabilityMask | undefined;
  if (mask?.format !== 'probability') return undefined;
  const cached = bitsCache.get(d);
  if (cached && cached.threshold === threshold) return cached.bits;
  const t = Math.fround(threshold);
  const data = new Uint8Array(mask.data.length);
  for (let i = 0; i < data.length; i++) data[i] = mask.data[i] > t ? 1 : 0;
  const bits = { left: mask.left, top: mask.top, width: mask.width, height: mask.height, data };
  bitsCache.set(d, { threshold, bits });
  return bits;
}

/** Pixels in the mask at `threshold`, else the box's area. */
export function areaOf(d: Detection, threshold: number): number {
  const bits = maskBits(d, threshold);
  if (!bits) return (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]);
  let n = 0;
  for (const v of bits.data) n += v;
  return n;
}

/** Indices of the detections shown at the score threshold (detections come sorted by score). */
export function shownIndices(scene: Pick<Scene, 'result' | 'scoreThreshold'>): number[] {
  const out: number[] = [];
  scene.result.detections.forEach((d, i) => {
    if (d.score >= scene.scoreThreshold) out.push(i);
  });
  return out;
}

function blendMasks(pixels: Uint8ClampedArray, width: number, scene: Scene, shown: number[]): void {
  // Lowest score first, so the best detection ends on top.
  for (const i of [...shown].reverse()) {
    const bits = maskBits(scene.result.detections[i], scene.maskThreshold);
    if (!bits) continue;
    const alpha = scene.highlight === null ? 0.45 : scene.highlight === i ? 0.7 : 0.15;
    const keep = 1 - alpha;
    const [r, g, b] = colourOf(i);
    for (let y = 0; y < bits.height; y++) {
      for (let x = 0, p = y * bits.width, q = 4 * ((bits.top + y) * width + bits.left); x < bits.width; x++, p++, q += 4) {
        if (!bits.data[p]) continue;
        pixels[q] = pixels[q] * keep + r * alpha;
        pixels[q + 1] = pixels[q + 1] * keep + g * alpha;
        pixels[q + 2] = pixels[q + 2] * keep + b * alpha;
      }
    }
  }
}

/** Label size from the image alone (for exports), legible from thumbnails to photos. */
export function labelSizeFor(width: number, height: number): number {
  return Math.max(10, Math.min(48, Math.round(Math.min(width, height) / 28)));
}

function drawBoxes(ctx: CanvasRenderingContext2D, scene: Scene, shown: number[]): void {
  const size = scene.labelSize ?? labelSizeFor(scene.width, scene.height);
  const line = Math.max(1.5, size / 8);
  ctx.font = `600 ${size}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  for (const i of [...shown].reverse()) {
    const d = scene.result.detections[i];
    const [x1, y1, x2, y2] = d.box;
    const on = scene.highlight === i;
    const dim = scene.highlight !== null && !on;
    ctx.lineWidth = on ? 2 * line : line;
    ctx.strokeStyle = cssColour(i, dim ? 0.35 : 1);
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const text = `${d.className} ${d.score.toFixed(2)}`;
    const w = ctx.measureText(text).width + size * 0.5;
    const h = size * 1.25;
    // Above the box when there is room, else inside its top edge.
    const ty = y1 - h >= 0 ? y1 - h : y1;
    const tx = Math.min(Math.max(0, x1), Math.max(0, scene.width - w));
    ctx.fillStyle = cssColour(i, dim ? 0.35 : 1);
    ctx.fillRect(tx, ty, w, h);
    ctx.fillStyle = dim ? 'rgba(255, 255, 255, 0.6)' : '#fff';
    ctx.fillText(text, tx + size * 0.25, ty + size * 0.12);
  }
}

/** Draws the scene into `canvas`, resized to the image. */
export function drawScene(canvas: HTMLCanvasElement, scene: Scene): void {
  if (canvas.width !== scene.width || canvas.height !== scene.height) Object.assign(canvas, { width: scene.width, height: scene.height });
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.clearRect(0, 0, scene.width, scene.height);
  ctx.drawImage(scene.image, 0, 0, scene.width, scene.height);
  const shown = shownIndices(scene);
  if (shown.some((i) => scene.result.detections[i].mask)) {
    const pixels = ctx.getImageData(0, 0, scene.width, scene.height);
    blendMasks(pixels.data, scene.width, scene, shown);
    ctx.putImageData(pixels, 0, 0);
  }
  drawBoxes(ctx, scene, shown);
}

/** The detection under image pixel (x, y): the best-scoring shown one whose mask (or, without masks, box) holds it. */
export function detectionAt(scene: Scene, x: number, y: number): number | null {
  const px = Math.floor(x), py = Math.floor(y);
  for (const i of shownIndices(scene)) {
    const d = scene.result.detections[i];
    const bits = maskBits(d, scene.maskThreshold);
    if (bits) {
      const cx = px - bits.left, cy = py - bits.top;
      if (cx >= 0 && cy >= 0 && cx < bits.width && cy < bits.height && bits.data[cy * bits.width + cx]) return i;
    } else if (x >= d.box[0] && x <= d.box[2] && y >= d.box[1] && y <= d.box[3]) {
      return i;
    }
  }
  return null;
}
