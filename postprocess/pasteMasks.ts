/**
 * Mask pasting of torchvision 0.14 (`models/detection/roi_heads.py`: `paste_masks_in_image`,
 * `paste_mask_in_image`, `expand_masks`, `expand_boxes`) with the bilinear taps of torch 1.13's
 * CPU `upsample_bilinear2d` kernel, so pasted probabilities equal torchvision's.
 *
 * Glossary: N = number of detections; M = side of the square predicted masks (28 in Mask R-CNN);
 * Mp = M + 2 * padding, the side after `expand_masks`; H, W = image height and width.
 *
 * What torchvision computes, per mask:
 *   1. `expand_masks`: zero-pad the M x M mask by `padding` on each side; scale = Mp / M.
 *   2. `expand_boxes`: scale the box about its centre by `scale` (float32), then `.to(int64)`,
 *      which truncates toward zero (not floor: -0.7 becomes 0).
 *   3. resize the Mp x Mp mask with `F.interpolate(bilinear, align_corners=False)` to
 *      (h, w) = (max(y2 - y1 + 1, 1), max(x2 - x1 + 1, 1)).
 *   4. copy the part of the resized mask that lies in the image to [y1, y2] x [x1, x2].
 * We never materialise the h x w resized mask: only the in-image part of the box is interpolated,
 * straight into the output, from per-row and per-column tap tables (so a box far larger than the
 * image costs no more than the image).
 */
import { OperatorInputError } from './errors.js';

/** Options of {@link pasteMasksInImage}. */
export interface PasteMasksOptions {
  /**
   * Zero border added around each mask before it is resized, with the box grown to match
   * (torchvision's `padding=1`, so the mask fades out at the box edge instead of being cut off).
   */
  padding?: number;
}

/** Options of {@link pasteBinaryMasksInImage}. */
export interface PasteBinaryMasksOptions extends PasteMasksOptions {
  /** Probability threshold; compared in float32 as torch compares a float32 tensor with a scalar. */
  maskThreshold?: number;
  /**
   * `'greater'` (default) keeps `probability > maskThreshold`, as torchvision's own COCO evaluation
   * does (`references/detection/coco_eval.py`: `masks = masks > 0.5`); `'greaterOrEqual'` keeps
   * `>=`, as Detectron2's and mmdetection's `paste_masks_in_image(..., threshold)` do.
   */
  thresholdRule?: 'greater' | 'greaterOrEqual';
}

/** torchvision's defaults: `paste_masks_in_image(padding=1)`, binarised at 0.5 with `>`. */
export const pasteMasksDefaults = { padding: 1, maskThreshold: 0.5, thresholdRule: 'greater' } as const;

/** Beyond 2^52 integer arithmetic on box corners would no longer be exact in a double. */
const MAX_COORDINATE = 2 ** 52;

/**
 * Pastes per-detection mask probabilities into the image, as torchvision 0.14's
 * `paste_masks_in_image(masks, boxes, (imageHeight, imageWidth), padding)`.
 *
 * Boxes partly outside the image paste their in-image part; boxes wholly outside, and inverted
 * boxes (x2 < x1), paste nothing. (torchvision 0.14 raises a shape-mismatch error for some boxes
 * wholly left of or above the image, through Python's negative slice indices; we give the empty
 * mask its geometry means.) NaN mask values propagate as in torch.
 * @param masks Float32Array [N, M, M] probabilities (the mask head's sigmoid of the label channel)
 * @param boxes Float32Array [N, 4] x1,y1,x2,y2 in image pixels (after `transform.postprocess`)
 * @param imageHeight H, the original image height
 * @param imageWidth W, the original image width
 * @returns Float32Array [N, H, W] probabilities (torchvision's [N, 1, H, W] without the 1)
 * @throws OperatorInputError on mismatched lengths, non-square masks, non-finite or out-of-range
 *   box coordinates, or sizes / padding that are not non-negative integers
 */
export function pasteMasksInImage(
  masks: Float32Array, boxes: Float32Array, imageHeight: number, imageWidth: number,
  options: PasteMasksOptions = {},
): Float32Array {
  const plan = planPaste('pasteMasksInImage', masks, boxes, imageHeight, imageWidth, options);
  const out = new Float32Array(plan.n * imageHeight * imageWidth);
  pasteAll(plan, masks, null, (i, x0, y0) => ({ out, start: (i * imageHeight + y0) * imageWidth + x0, stride: imageWidth }));
  return out;
}

/**
 * {@link pasteMasksInImage} followed by a threshold, written straight into a binary mask without
 * the float [N, H, W] intermediate. Pixels outside the box are 0 (their probability is 0, which
 * passes neither rule for a threshold >= 0).
 * @param masks Float32Array [N, M, M] probabilities
 * @param boxes Float32Array [N, 4] x1,y1,x2,y2 in image pixels
 * @param imageHeight H
 * @param imageWidth W
 * @returns Uint8Array [N, H, W] of 0 and 1
 * @throws OperatorInputError as {@link pasteMasksInImage}, or for a non-finite or negative threshold
 */
export function pasteBinaryMasksInImage(
  masks: Float32Array, boxes: Float32Array, imageHeight: number, imageWidth: number,
  options: PasteBinaryMasksOptions = {},
): Uint8Array {
  const op = 'pasteBinaryMasksInImage';
  const plan = planPaste(op, masks, boxes, imageHeight, imageWidth, options);
  const rule = thresholdRule(op, options);
  const out = new Uint8Array(plan.n * imageHeight * imageWidth);
  pasteAll(plan, masks, rule, (i, x0, y0) => ({ out, start: (i * imageHeight + y0) * imageWidth + x0, stride: imageWidth }));
  return out;
}

/**
 * The part of a pasted mask that can be non-zero: the in-image window of its expanded box,
 * `data` [height, width] row-major, at columns left .. left + width - 1 and rows top .. top + height - 1
 * of the image. Every pixel outside it is 0 in torchvision's full-image mask.
 */
export interface MaskWindow<T extends Float32Array | Uint8Array> {
  left: number;
  top: number;
  width: number;
  height: number;
  data: T;
}

/**
 * {@link pasteMasksInImage}, keeping of each mask only its window: memory in proportion to the
 * objects, not to N times the image. The windows hold exactly the values of the full-image result.
 * @param masks Float32Array [N, M, M] probabilities
 * @param boxes Float32Array [N, 4] x1,y1,x2,y2 in image pixels
 * @returns N windows of Float32Array probabilities (empty for boxes wholly outside the image)
 * @throws OperatorInputError as {@link pasteMasksInImage}
 */
export function pasteMasksInBoxes(
  masks: Float32Array, boxes: Float32Array, imageHeight: number, imageWidth: number,
  options: PasteMasksOptions = {},
): MaskWindow<Float32Array>[] {
  const plan = planPaste('pasteMasksInBoxes', masks, boxes, imageHeight, imageWidth, options);
  return pasteIntoWindows(plan, masks, null, (n) => new Float32Array(n));
}

/**
 * {@link pasteBinaryMasksInImage}, keeping of each mask only its window (see {@link MaskWindow}).
 * @returns N windows of Uint8Array 0 / 1
 * @throws OperatorInputError as {@link pasteBinaryMasksInImage}
 */
export function pasteBinaryMasksInBoxes(
  masks: Float32Array, boxes: Float32Array, imageHeight: number, imageWidth: number,
  options: PasteBinaryMasksOptions = {},
): MaskWindow<Uint8Array>[] {
  const op = 'pasteBinaryMasksInBoxes';
  const plan = planPaste(op, masks, boxes, imageHeight, imageWidth, options);
  return pasteIntoWindows(plan, masks, thresholdRule(op, options), (n) => new Uint8Array(n));
}

/** Pastes each mask into a buffer of its own window's size. */
function pasteIntoWindows<T extends Float32Array | Uint8Array>(
  plan: PastePlan, masks: Float32Array, binary: ThresholdRule | null, allocate: (length: number) => T,
): MaskWindow<T>[] {
  const windows: MaskWindow<T>[] = [];
  pasteAll(plan, masks, binary, (_, left, top, width, height) => {
    const data = allocate(width * height);
    windows.push({ left, top, width, height, data });
    return { out: data, start: 0, stride: width };
  });
  return windows;
}

function thresholdRule(op: string, options: PasteBinaryMasksOptions): ThresholdRule {
  const threshold = options.maskThreshold ?? pasteMasksDefaults.maskThreshold;
  if (!Number.isFinite(threshold) || threshold < 0) {
    throw new OperatorInputError(op, `maskThreshold must be a finite number >= 0, got ${threshold}`);
  }
  const rule = options.thresholdRule ?? pasteMasksDefaults.thresholdRule;
  if (rule !== 'greater' && rule !== 'greaterOrEqual') {
    throw new OperatorInputError(op, `thresholdRule must be 'greater' or 'greaterOrEqual', got '${String(rule)}'`);
  }
  return { threshold: Math.fround(threshold), inclusive: rule === 'greaterOrEqual' };
}

/**
 * torchvision's `expand_boxes(boxes, scale).to(torch.int64)`: each box scaled about its centre in
 * float32 (torch casts the Python float `scale` to the tensor's dtype), then truncated toward zero.
 * @param boxes Float32Array [N, 4] x1,y1,x2,y2
 * @param scale (M + 2 * padding) / M
 * @returns Float64Array [N, 4] of integers (int64 in torchvision; exact in a double up to 2^53)
 */
export function expandBoxesToInt(boxes: Float32Array, scale: number): Float64Array {
  const f = Math.fround;
  const s = f(scale);
  const out = new Float64Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    const x1 = boxes[i], y1 = boxes[i + 1], x2 = boxes[i + 2], y2 = boxes[i + 3];
    const wHalf = f(f(f(x2 - x1) * 0.5) * s);
    const hHalf = f(f(f(y2 - y1) * 0.5) * s);
    const xc = f(f(x2 + x1) * 0.5);
    const yc = f(f(y2 + y1) * 0.5);
    // `+ 0` turns trunc's -0 into the 0 an int64 holds
    out[i] = Math.trunc(f(xc - wHalf)) + 0;
    out[i + 1] = Math.trunc(f(yc - hHalf)) + 0;
    out[i + 2] = Math.trunc(f(xc + wHalf)) + 0;
    out[i + 3] = Math.trunc(f(yc + hHalf)) + 0;
  }
  return out;
}

/** Validated sizes of one paste call plus the scratch tables reused by every mask. */
interface PastePlan {
  n: number;
  maskSize: number;
  padding: number;
  imageHeight: number;
  imageWidth: number;
  /** Integer boxes after `expand_boxes(...).to(int64)`, [N, 4]. */
  intBoxes: Float64Array;
  /** The current mask zero-padded to Mp x Mp (the border is never written, so stays zero). */
  padded: Float32Array;
  rows: TapTable;
  cols: TapTable;
}

/** Bilinear taps per output row (or column): two source indices and their weights. */
interface TapTable {
  index0: Int32Array;
  index1: Int32Array;
  lambda0: Float32Array;
  lambda1: Float32Array;
}

function newTapTable(length: number): TapTable {
  return {
    index0: new Int32Array(length), index1: new Int32Array(length),
    lambda0: new Float32Array(length), lambda1: new Float32Array(length),
  };
}

function planPaste(
  op: string, masks: Float32Array, boxes: Float32Array, imageHeight: number, imageWidth: number,
  options: PasteMasksOptions,
): PastePlan {
  if (!(masks instanceof Float32Array)) throw new OperatorInputError(op, 'masks must be a Float32Array [N, M, M]');
  if (!(boxes instanceof Float32Array)) throw new OperatorInputError(op, 'boxes must be a Float32Array [N, 4]');
  for (const [name, v] of [['imageHeight', imageHeight], ['imageWidth', imageWidth]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new OperatorInputError(op, `${name} must be an integer >= 0, got ${v}`);
  }
  const padding = options.padding ?? pasteMasksDefaults.padding;
  if (!Number.isSafeInteger(padding) || padding < 0) {
    throw new OperatorInputError(op, `padding must be an integer >= 0, got ${padding}`);
  }
  if (boxes.length % 4 !== 0) {
    throw new OperatorInputError(op, `boxes has ${boxes.length} numbers, not a multiple of 4 ([N, 4] x1,y1,x2,y2)`);
  }
  const n = boxes.length / 4;
  const maskSize = squareMaskSize(op, masks, n);
  for (let i = 0; i < boxes.length; i++) {
    const v = boxes[i];
    if (!Number.isFinite(v) || Math.abs(v) > MAX_COORDINATE) {
      throw new OperatorInputError(op, `boxes[${i >> 2}] has coordinate ${v} at position ${i & 3}; coordinates must be finite and within +-2^52`);
    }
  }
  const side = maskSize + 2 * padding;
  return {
    n, maskSize, padding, imageHeight, imageWidth,
    intBoxes: expandBoxesToInt(boxes, maskSize === 0 ? 1 : side / maskSize),
    padded: new Float32Array(side * side),
    rows: newTapTable(imageHeight),
    cols: newTapTable(imageWidth),
  };
}

/** M from masks.length = N * M * M; throws when that is no square or N = 0 with masks present. */
function squareMaskSize(op: string, masks: Float32Array, n: number): number {
  if (n === 0) {
    if (masks.length !== 0) throw new OperatorInputError(op, `boxes is empty but masks has ${masks.length} values`);
    return 0;
  }
  const perMask = masks.length / n;
  const m = Math.round(Math.sqrt(perMask));
  if (!Number.isInteger(perMask) || m * m !== perMask || m === 0) {
    throw new OperatorInputError(op, `masks has ${masks.length} values, which is not N * M * M for N = ${n} boxes and a square M x M mask`);
  }
  return m;
}

/** Binary output: `value > threshold` or `>=`, the threshold already rounded to float32. */
interface ThresholdRule {
  threshold: number;
  inclusive: boolean;
}

/**
 * Where mask i's in-image window [y0, y1) x [x0, x1) is written: `out[start + r * stride + c]` for
 * window row r and column c.
 */
type PasteTarget<T extends Float32Array | Uint8Array> = (i: number, x0: number, y0: number, width: number, height: number) => { out: T; start: number; stride: number };

function pasteAll<T extends Float32Array | Uint8Array>(
  plan: PastePlan, masks: Float32Array, binary: ThresholdRule | null, target: PasteTarget<T>,
): void {
  const { n, maskSize: m, padding, imageHeight: imH, imageWidth: imW, intBoxes, padded } = plan;
  const side = m + 2 * padding;
  for (let i = 0; i < n; i++) {
    const bx1 = intBoxes[4 * i], by1 = intBoxes[4 * i + 1], bx2 = intBoxes[4 * i + 2], by2 = intBoxes[4 * i + 3];
    // paste_mask_in_image: the in-image window [y0, y1) x [x0, x1) of the box
    const x0 = Math.max(bx1, 0), x1 = Math.min(bx2 + 1, imW);
    const y0 = Math.max(by1, 0), y1 = Math.min(by2 + 1, imH);
    const { out, start, stride } = target(i, Math.min(x0, imW), Math.min(y0, imH), Math.max(x1 - x0, 0), Math.max(y1 - y0, 0));
    if (x1 <= x0 || y1 <= y0) continue;
    for (let r = 0; r < m; r++) {
      padded.set(masks.subarray((i * m + r) * m, (i * m + r + 1) * m), (r + padding) * side + padding);
    }
    const w = Math.max(bx2 - bx1 + 1, 1);
    const h = Math.max(by2 - by1 + 1, 1);
    fillTaps(plan.cols, side, w, x0 - bx1, x1 - x0);
    fillTaps(plan.rows, side, h, y0 - by1, y1 - y0);
    const window: Window = { width: x1 - x0, height: y1 - y0, start, stride, side };
    if (binary === null) interpolateInto(padded, plan.rows, plan.cols, window, out as Float32Array);
    else thresholdInto(padded, plan.rows, plan.cols, window, out as Uint8Array, binary);
  }
}

/**
 * Taps of torch's `compute_source_index_and_lambda` (ATen/native/UpSample.h, align_corners=False,
 * no scale factor) for output indices first .. first+count-1 of a resize from `inSize` to
 * `outSize`, stored at table positions 0 .. count-1:
 *   ratio = float(inSize) / outSize in float32 (`area_pixel_compute_scale`);
 *   src = ratio * (dst + 0.5) - 0.5 in double (acc_type<float> on CPU), clamped to >= 0;
 *   index0 = trunc(src), index1 = index0 + 1 unless at the last input;
 *   lambda1 = float(src - index0), lambda0 = 1 - lambda1 in float32.
 * Equal sizes copy (lambda 1, 0), as the kernel special-cases them.
 */
function fillTaps(t: TapTable, inSize: number, outSize: number, first: number, count: number): void {
  const ratio = Math.fround(inSize / Math.fround(outSize));
  for (let k = 0; k < count; k++) {
    const dst = first + k;
    if (outSize === inSize) {
      t.index0[k] = dst; t.index1[k] = dst; t.lambda0[k] = 1; t.lambda1[k] = 0;
      continue;
    }
    let src = ratio * (dst + 0.5) - 0.5;
    if (src < 0) src = 0;
    // trunc == floor for src >= 0; the min never binds (src < inSize - 0.5) but keeps reads in bounds
    const i0 = Math.min(Math.trunc(src), inSize - 1);
    const lambda1 = Math.fround(src - i0);
    t.index0[k] = i0;
    t.index1[k] = i0 < inSize - 1 ? i0 + 1 : i0;
    t.lambda1[k] = lambda1;
    t.lambda0[k] = Math.fround(1 - lambda1);
  }
}

/** The in-image window of one box, where it goes in the output, and the padded mask's side. */
interface Window {
  width: number;
  height: number;
  /** Output offset of the window's top-left pixel. */
  start: number;
  /** Output row stride (W for a whole-image plane, the window width for a crop). */
  stride: number;
  /** Mp, the padded mask's side. */
  side: number;
}

/**
 * torch 1.13 dispatches a [1, 1, Mp, Mp] input to `cpu_upsample_linear_channels_last` (a C = 1
 * tensor is channels-last contiguous), whose per-pixel sum is
 *   (h0*w0) * i00 + (h0*w1) * i01 + (h1*w0) * i10 + (h1*w1) * i11
 * with the lambda products in float32 and the sum held in double until the float32 store; that is
 * what reproduces torch bit for bit (checked against torch 1.13, see the parity test).
 */
function interpolateInto(src: Float32Array, rows: TapTable, cols: TapTable, win: Window, out: Float32Array): void {
  const f = Math.fround;
  const { width, height, start, stride, side } = win;
  for (let r = 0; r < height; r++) {
    const h0 = rows.lambda0[r], h1 = rows.lambda1[r];
    const r0 = rows.index0[r] * side, r1 = rows.index1[r] * side;
    const o = start + r * stride;
    for (let c = 0; c < width; c++) {
      const w0 = cols.lambda0[c], w1 = cols.lambda1[c];
      const c0 = cols.index0[c], c1 = cols.index1[c];
      out[o + c] = f(h0 * w0) * src[r0 + c0] + f(h0 * w1) * src[r0 + c1]
        + f(h1 * w0) * src[r1 + c0] + f(h1 * w1) * src[r1 + c1];
    }
  }
}

/** {@link interpolateInto} then the threshold, on the float32-rounded probability. */
function thresholdInto(
  src: Float32Array, rows: TapTable, cols: TapTable, win: Window, out: Uint8Array, rule: ThresholdRule,
): void {
  const f = Math.fround;
  const { width, height, start, stride, side } = win;
  const { threshold, inclusive } = rule;
  for (let r = 0; r < height; r++) {
    const h0 = rows.lambda0[r], h1 = rows.lambda1[r];
    const r0 = rows.index0[r] * side, r1 = rows.index1[r] * side;
    const o = start + r * stride;
    for (let c = 0; c < width; c++) {
      const w0 = cols.lambda0[c], w1 = cols.lambda1[c];
      const c0 = cols.index0[c], c1 = cols.index1[c];
      const v = f(f(h0 * w0) * src[r0 + c0] + f(h0 * w1) * src[r0 + c1]
        + f(h1 * w0) * src[r1 + c0] + f(h1 * w1) * src[r1 + c1]);
      out[o + c] = (inclusive ? v >= threshold : v > threshold) ? 1 : 0;
    }
  }
}
