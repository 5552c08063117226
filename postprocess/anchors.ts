/**
 * torchvision 0.14's `AnchorGenerator` (models/detection/anchor_utils.py).
 *
 * Glossary: L = number of feature levels; for level l, Hl x Wl = its grid, Al = sizes[l].length *
 * aspectRatios[l].length anchors per location. Aspect ratio = height / width.
 * Output order is torchvision's: level, then y, then x, then anchor (ratio-major, then size), so
 * anchors line up with the RPN head's outputs permuted (N, A, H, W) -> (N, H*W*A).
 */
import { OperatorInputError } from './errors.js';

/** Anchor sizes and aspect ratios per feature level, as `AnchorGenerator(sizes, aspect_ratios)`. */
export interface AnchorGeneratorConfig {
  /** sizes[l] = anchor sizes (sqrt of area, pixels) of level l; torchvision's FPN: [[32], [64], ..., [512]] */
  readonly sizes: readonly (readonly number[])[];
  /** aspectRatios[l] = height / width ratios of level l; torchvision's FPN: [0.5, 1, 2] for every level */
  readonly aspectRatios: readonly (readonly number[])[];
}

/** A (height, width) pair: a grid size, a stride or an image size. */
export type HeightWidth = readonly [height: number, width: number];

/** Anchors per location of each level (`num_anchors_per_location`). */
export function numAnchorsPerLocation(config: AnchorGeneratorConfig): number[] {
  return config.sizes.map((s, l) => s.length * (config.aspectRatios[l]?.length ?? 0));
}

/**
 * Zero-centred base anchors of one level, as `AnchorGenerator.generate_anchors`: in float32,
 * w = size / sqrt(ratio), h = size * sqrt(ratio), corners (-w, -h, w, h) / 2 rounded half to even
 * (torch.round), ratio-major.
 * @param sizes anchor sizes of the level
 * @param aspectRatios height / width ratios of the level
 * @returns Float32Array [A, 4] x1,y1,x2,y2 with A = aspectRatios.length * sizes.length
 */
export function cellAnchors(sizes: readonly number[], aspectRatios: readonly number[]): Float32Array {
  for (const s of sizes) {
    if (!(Number.isFinite(s) && s > 0)) throw new OperatorInputError('cellAnchors', `anchor size ${s} is not a finite positive number`);
  }
  for (const r of aspectRatios) {
    if (!(Number.isFinite(r) && r > 0)) throw new OperatorInputError('cellAnchors', `aspect ratio ${r} is not a finite positive number`);
  }
  const f = Math.fround;
  const out = new Float32Array(4 * sizes.length * aspectRatios.length);
  let k = 0;
  for (const ratio of aspectRatios) {
    const hRatio = f(Math.sqrt(f(ratio)));
    const wRatio = f(1 / hRatio);
    for (const size of sizes) {
      const ws = f(wRatio * f(size));
      const hs = f(hRatio * f(size));
      out[k++] = roundHalfToEven(f(-ws / 2));
      out[k++] = roundHalfToEven(f(-hs / 2));
      out[k++] = roundHalfToEven(f(ws / 2));
      out[k++] = roundHalfToEven(f(hs / 2));
    }
  }
  return out;
}

/** torch.round (std::nearbyint): ties go to the even integer, unlike Math.round. */
function roundHalfToEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Strides of each level as `AnchorGenerator.forward` computes them: the padded image size divided
 * by the grid size with integer division per axis (61, not 64, for an odd-sized 'pool' level).
 * @param imageSize (height, width) of the padded batch tensor
 * @param gridSizes (Hl, Wl) of each level
 */
export function anchorStrides(imageSize: HeightWidth, gridSizes: readonly HeightWidth[]): HeightWidth[] {
  checkSize('anchorStrides', 'imageSize', imageSize, false);
  return gridSizes.map((g, l) => {
    checkSize('anchorStrides', `gridSizes[${l}]`, g, true);
    return [Math.floor(imageSize[0] / g[0]), Math.floor(imageSize[1] / g[1])] as const;
  });
}

function checkSize(operator: string, name: string, size: HeightWidth, positive: boolean): void {
  const ok = size.length === 2 && size.every((v) => Number.isInteger(v) && (positive ? v > 0 : v >= 0));
  if (!ok) throw new OperatorInputError(operator, `${name} must be two ${positive ? 'positive' : 'non-negative'} integers (height, width), got [${size.join(', ')}]`);
}

/**
 * Anchors over all levels for the given grids and strides, as `AnchorGenerator.grid_anchors`
 * concatenated over levels: anchor = base anchor + (x * strideW, y * strideH, x * strideW, y * strideH).
 * @param config sizes and aspect ratios per level (L levels)
 * @param gridSizes (Hl, Wl) per level, L entries
 * @param strides (strideH, strideW) per level, L entries
 * @returns Float32Array [sum_l Hl*Wl*Al, 4] x1,y1,x2,y2, ordered level, y, x, anchor
 */
export function gridAnchors(
  config: AnchorGeneratorConfig, gridSizes: readonly HeightWidth[], strides: readonly HeightWidth[],
): Float32Array {
  const levels = config.sizes.length;
  if (config.aspectRatios.length !== levels || gridSizes.length !== levels || strides.length !== levels) {
    throw new OperatorInputError('gridAnchors', `sizes (${levels} levels), aspectRatios (${config.aspectRatios.length}), gridSizes (${gridSizes.length}) and strides (${strides.length}) must have one entry per feature level`);
  }
  const bases = config.sizes.map((s, l) => cellAnchors(s, config.aspectRatios[l]));
  let total = 0;
  for (let l = 0; l < levels; l++) {
    checkSize('gridAnchors', `gridSizes[${l}]`, gridSizes[l], false);
    checkSize('gridAnchors', `strides[${l}]`, strides[l], false);
    total += gridSizes[l][0] * gridSizes[l][1] * bases[l].length;
  }
  const out = new Float32Array(total);
  let k = 0;
  for (let l = 0; l < levels; l++) {
    const base = bases[l];
    const [gridH, gridW] = gridSizes[l];
    const [strideH, strideW] = strides[l];
    for (let y = 0; y < gridH; y++) {
      const shiftY = y * strideH;
      for (let x = 0; x < gridW; x++) {
        const shiftX = x * strideW;
        for (let a = 0; a < base.length; a += 4) {
          out[k++] = shiftX + base[a];
          out[k++] = shiftY + base[a + 1];
          out[k++] = shiftX + base[a + 2];
          out[k++] = shiftY + base[a + 3];
        }
      }
    }
  }
  return out;
}

/**
 * Anchors of one image, as `AnchorGenerator.forward`: strides from the padded image size and the
 * level grids, then `gridAnchors`.
 * @param config sizes and aspect ratios per level
 * @param gridSizes (Hl, Wl) of each feature level
 * @param imageSize (height, width) of the padded batch tensor (not the unpadded image)
 * @returns Float32Array [sum_l Hl*Wl*Al, 4] x1,y1,x2,y2
 */
export function generateAnchors(
  config: AnchorGeneratorConfig, gridSizes: readonly HeightWidth[], imageSize: HeightWidth,
): Float32Array {
  return gridAnchors(config, gridSizes, anchorStrides(imageSize, gridSizes));
}
