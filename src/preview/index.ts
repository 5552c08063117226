/**
 * The annotated preview `resdet detect` writes: the image with translucent per-instance mask
 * colours, box outlines, and "class score" labels on a solid tab, sized from the image so they
 * stay legible from thumbnails to 100 MP scans. Masks and boxes are drawn over the RGB pixels
 * here; text uses the bitmap fonts jimp bundles (drawn by font.ts), so no system font is needed.
 */
import { drawLabel, loadBitmapFont, measureLabel, type BitmapFont } from './font.js';
import type { BinaryMask, Detection } from '../detector/result.js';

/** Distinct, saturated colours (Tableau 10), cycled by detection index. */
const PALETTE: ReadonlyArray<readonly [number, number, number]> = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];

const FONT_SIZES = [8, 16, 32, 64, 128] as const;
type FontSize = (typeof FONT_SIZES)[number];

/** Largest bundled font not above ~1/28 of the short side (at least 8 px). */
function fontSizeFor(width: number, height: number): FontSize {
  const target = Math.min(width, height) / 28;
  return [...FONT_SIZES].reverse().find((s) => s <= target) ?? 8;
}

function fillRect(rgb: Uint8Array, width: number, height: number, x0: number, y0: number, x1: number, y1: number, c: readonly number[]): void {
  const xa = Math.max(0, Math.floor(x0)), xb = Math.min(width, Math.ceil(x1));
  const ya = Math.max(0, Math.floor(y0)), yb = Math.min(height, Math.ceil(y1));
  for (let y = ya; y < yb; y++) {
    for (let x = xa, i = 3 * (y * width + xa); x < xb; x++, i += 3) {
      rgb[i] = c[0]; rgb[i + 1] = c[1]; rgb[i + 2] = c[2];
    }
  }
}

/** Blends `colour` at `alpha` into the pixels where the mask (over its window) is set. */
function blendMask(rgb: Uint8Array, width: number, mask: BinaryMask, colour: readonly number[], alpha: number): void {
  const keep = 1 - alpha;
  for (let r = 0; r < mask.height; r++) {
    for (let c = 0, p = r * mask.width, i = 3 * ((mask.top + r) * width + mask.left); c < mask.width; c++, p++, i += 3) {
      if (!mask.data[p]) continue;
      rgb[i] = rgb[i] * keep + colour[0] * alpha;
      rgb[i + 1] = rgb[i + 1] * keep + colour[1] * alpha;
      rgb[i + 2] = rgb[i + 2] * keep + colour[2] * alpha;
    }
  }
}

/** Decoded fonts by size: decoding a font's page costs more than drawing a preview. */
const fontCache = new Map<FontSize, Promise<BitmapFont>>();

function labelFont(size: FontSize): Promise<BitmapFont> {
  let font = fontCache.get(size);
  if (!font) {
    // jimp/fonts is only the fonts' paths: it loads none of jimp.
    font = import('jimp/fonts').then((fonts) => loadBitmapFont(fonts[`SANS_${size}_WHITE`]));
    // A failed load is not kept: the next preview tries again.
    font.catch(() => fontCache.delete(size));
    fontCache.set(size, font);
  }
  return font;
}

/**
 * Draws detections over an RGB image, in place: every caller has just decoded the pixels for
 * this, and a copy (or an RGBA one) cost more than the drawing, in allocations the collector
 * then chases (a 320 px preview: 0.6 ms drawn in place, 2.1 ms before through jimp).
 * @param rgb interleaved 8-bit RGB [H, W, 3], overwritten with masks, boxes and labels
 */
export async function drawPreview(rgb: Uint8Array, width: number, height: number, detections: readonly Detection[]): Promise<void> {
  const colour = (i: number) => PALETTE[i % PALETTE.length];
  // Masks, then boxes, from the lowest score up so the best detection is drawn on top.
  for (let i = detections.length - 1; i >= 0; i--) {
    const m = detections[i].mask;
    if (m && m.format === 'binary') blendMask(rgb, width, m, colour(i), 0.45);
  }
  const line = Math.max(1, Math.round(Math.min(width, height) / 320));
  for (let i = detections.length - 1; i >= 0; i--) {
    const [x1, y1, x2, y2] = detections[i].box;
    const c = colour(i);
    fillRect(rgb, width, height, x1, y1, x2, y1 + line, c);
    fillRect(rgb, width, height, x1, y2 - line, x2, y2, c);
    fillRect(rgb, width, height, x1, y1, x1 + line, y2, c);
    fillRect(rgb, width, height, x2 - line, y1, x2, y2, c);
  }
  if (detections.length === 0) return;
  const size = fontSizeFor(width, height);
  const font = await labelFont(size);
  const labels = detections.map((d) => `${d.className} ${d.score.toFixed(2)}`);
  const pad = Math.max(1, Math.round(size / 8));
  const tabHeight = Math.round(size * 1.15) + 2 * pad;
  const tabs = detections.map((d, i) => {
    const w = measureLabel(font, labels[i]) + 2 * pad;
    // The tab sits above the box, or inside its top edge when the box touches the image top.
    const x = Math.min(Math.max(0, Math.round(d.box[0])), Math.max(0, width - w));
    const above = Math.round(d.box[1]) - tabHeight;
    const y = above >= 0 ? above : Math.min(Math.max(0, Math.round(d.box[1])), Math.max(0, height - tabHeight));
    fillRect(rgb, width, height, x, y, x + w, y + tabHeight, colour(i));
    return { x: x + pad, y: y + pad };
  });
  for (let i = detections.length - 1; i >= 0; i--) drawLabel(rgb, width, height, 3, font, tabs[i].x, tabs[i].y, labels[i]);
}
