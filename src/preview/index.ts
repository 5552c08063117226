/**
 * The annotated preview `resdet detect` writes: the image with translucent per-instance mask
 * colours, box outlines, and "class score" labels on a solid tab, sized from the image so they
 * stay legible from thumbnails to 100 MP scans. Masks and boxes are drawn into the RGBA buffer
 * here; text uses jimp's bundled bitmap fonts, so no system font is needed.
 */
import { Jimp, loadFont, measureText } from 'jimp';
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

function fillRect(rgba: Uint8Array, width: number, height: number, x0: number, y0: number, x1: number, y1: number, c: readonly number[]): void {
  const xa = Math.max(0, Math.floor(x0)), xb = Math.min(width, Math.ceil(x1));
  const ya = Math.max(0, Math.floor(y0)), yb = Math.min(height, Math.ceil(y1));
  for (let y = ya; y < yb; y++) {
    for (let x = xa, i = 4 * (y * width + xa); x < xb; x++, i += 4) {
      rgba[i] = c[0]; rgba[i + 1] = c[1]; rgba[i + 2] = c[2]; rgba[i + 3] = 255;
    }
  }
}

/** Blends `colour` at `alpha` into the pixels where the mask (over its window) is set. */
function blendMask(rgba: Uint8Array, width: number, mask: BinaryMask, colour: readonly number[], alpha: number): void {
  const keep = 1 - alpha;
  for (let r = 0; r < mask.height; r++) {
    for (let c = 0, p = r * mask.width, i = 4 * ((mask.top + r) * width + mask.left); c < mask.width; c++, p++, i += 4) {
      if (!mask.data[p]) continue;
      rgba[i] = rgba[i] * keep + colour[0] * alpha;
      rgba[i + 1] = rgba[i + 1] * keep + colour[1] * alpha;
      rgba[i + 2] = rgba[i + 2] * keep + colour[2] * alpha;
    }
  }
}

type Font = Awaited<ReturnType<typeof loadFont>>;
/** Parsed fonts by size: parsing one takes tens of milliseconds, more than drawing a preview. */
const fontCache = new Map<FontSize, Promise<Font>>();

function labelFont(size: FontSize): Promise<Font> {
  let font = fontCache.get(size);
  if (!font) {
    font = import('jimp/fonts').then((fonts) => loadFont(fonts[`SANS_${size}_WHITE`]));
    // A failed load is not kept: the next preview tries again.
    font.catch(() => fontCache.delete(size));
    fontCache.set(size, font);
  }
  return font;
}

/**
 * Draws detections over an RGB image.
 * @param rgb interleaved 8-bit RGB [H, W, 3]
 * @returns RGBA pixels [H, W, 4] with masks, boxes and labels drawn
 */
export async function drawPreview(rgb: Uint8Array, width: number, height: number, detections: readonly Detection[]): Promise<Uint8Array> {
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0, i = 0, j = 0; p < width * height; p++, i += 4, j += 3) {
    rgba[i] = rgb[j]; rgba[i + 1] = rgb[j + 1]; rgba[i + 2] = rgb[j + 2]; rgba[i + 3] = 255;
  }
  const colour = (i: number) => PALETTE[i % PALETTE.length];
  // Masks, then boxes, from the lowest score up so the best detection is drawn on top.
  for (let i = detections.length - 1; i >= 0; i--) {
    const m = detections[i].mask;
    if (m && m.format === 'binary') blendMask(rgba, width, m, colour(i), 0.45);
  }
  const line = Math.max(1, Math.round(Math.min(width, height) / 320));
  for (let i = detections.length - 1; i >= 0; i--) {
    const [x1, y1, x2, y2] = detections[i].box;
    const c = colour(i);
    fillRect(rgba, width, height, x1, y1, x2, y1 + line, c);
    fillRect(rgba, width, height, x1, y2 - line, x2, y2, c);
    fillRect(rgba, width, height, x1, y1, x1 + line, y2, c);
    fillRect(rgba, width, height, x2 - line, y1, x2, y2, c);
  }
  if (detections.length === 0) return rgba;
  const size = fontSizeFor(width, height);
  const font = await labelFont(size);
  const labels = detections.map((d) => `${d.className} ${d.score.toFixed(2)}`);
  const pad = Math.max(1, Math.round(size / 8));
  const tabHeight = Math.round(size * 1.15) + 2 * pad;
  const tabs = detections.map((d, i) => {
    const w = measureText(font, labels[i]) + 2 * pad;
    // The tab sits above the box, or inside its top edge when the box touches the image top.
    const x = Math.min(Math.max(0, Math.round(d.box[0])), Math.max(0, width - w));
    const above = Math.round(d.box[1]) - tabHeight;
    const y = above >= 0 ? above : Math.min(Math.max(0, Math.round(d.box[1])), Math.max(0, height - tabHeight));
    fillRect(rgba, width, height, x, y, x + w, y + tabHeight, colour(i));
    return { x: x + pad, y: y + pad };
  });
  const image = Jimp.fromBitmap({ data: Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength), width, height });
  for (let i = detections.length - 1; i >= 0; i--) image.print({ font, x: tabs[i].x, y: tabs[i].y, text: labels[i] });
  return new Uint8Array(image.bitmap.data.buffer, image.bitmap.data.byteOffset, image.bitmap.data.byteLength);
}
