/**
 * Box utilities of torchvision 0.14's `ops/boxes.py`: `clip_boxes_to_image`, `remove_small_boxes`,
 * `box_area`, `box_iou`, in float32 like torchvision's float32 tensors (every intermediate rounded
 * with Math.fround, which equals the float32 operation for + - * /).
 *
 * Glossary: N, M = numbers of boxes; boxes are (x1, y1, x2, y2), flat, 4 numbers per box.
 * These are element-wise like torchvision's: NaN or infinite coordinates propagate as they do in
 * torch (NaN stays NaN through clipping, a NaN side is never ">= minSize"); only shapes and the
 * scalar arguments are checked.
 */
import { OperatorInputError } from './errors.js';

/** Image size as torchvision passes it: (height, width). */
export type ImageSize = readonly [height: number, width: number];

/**
 * Number of boxes in a flat [N, 4] array; throws when the length is not a multiple of 4.
 * @internal shared by the operators of this folder
 */
export function boxCount(operator: string, name: string, boxes: Float32Array): number {
  if (!(boxes instanceof Float32Array)) {
    throw new OperatorInputError(operator, `${name} must be a Float32Array [N, 4]`);
  }
  if (boxes.length % 4 !== 0) {
    throw new OperatorInputError(operator, `${name} has ${boxes.length} numbers, not a multiple of 4 ([N, 4] x1,y1,x2,y2)`);
  }
  return boxes.length / 4;
}

/**
 * Clips boxes to an image, as torchvision's `clip_boxes_to_image`: x clamped to [0, width],
 * y to [0, height]. Works on any [..., 4] layout, e.g. per-class boxes [N, K*4].
 * @param boxes Float32Array [N, 4] (or [N, K*4]) x1,y1,x2,y2
 * @param imageSize (height, width) of the image the boxes live in
 * @returns Float32Array of the same shape; NaN stays NaN, as torch's clamp keeps it
 */
export function clipBoxesToImage(boxes: Float32Array, imageSize: ImageSize): Float32Array {
  boxCount('clipBoxesToImage', 'boxes', boxes);
  const [height, width] = imageSize;
  if (!(height >= 0 && width >= 0) || !Number.isFinite(height) || !Number.isFinite(width)) {
    throw new OperatorInputError('clipBoxesToImage', `imageSize must be finite and >= 0, got [${height}, ${width}]`);
  }
  // torch casts the clamp bounds to the tensor's dtype.
  const w = Math.fround(width);
  const h = Math.fround(height);
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 2) {
    out[i] = clamp(boxes[i], w);
    out[i + 1] = clamp(boxes[i + 1], h);
  }
  return out;
}

/** min(max(v, 0), hi) with NaN propagated, like torch's clamp. */
function clamp(v: number, hi: number): number {
  if (v < 0) return 0;
  if (v > hi) return hi;
  return v;
}

/**
 * Indices of the boxes whose both sides are at least `minSize`, as torchvision's
 * `remove_small_boxes`: `(ws >= min_size) & (hs >= min_size)` with sides in float32 and
 * `min_size` cast to float32 (torch compares a float32 tensor with a float32 scalar).
 * @param boxes Float32Array [N, 4] x1,y1,x2,y2
 * @param minSize smallest side kept (RPN: 1e-3, box head: 1e-2)
 * @returns Int32Array [K] increasing indices; inverted boxes (x2 < x1) and NaN sides are removed
 */
export function removeSmallBoxes(boxes: Float32Array, minSize: number): Int32Array {
  const n = boxCount('removeSmallBoxes', 'boxes', boxes);
  if (Number.isNaN(minSize)) throw new OperatorInputError('removeSmallBoxes', 'minSize is NaN');
  const min = Math.fround(minSize);
  const keep = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const ws = Math.fround(boxes[4 * i + 2] - boxes[4 * i]);
    const hs = Math.fround(boxes[4 * i + 3] - boxes[4 * i + 1]);
    if (ws >= min && hs >= min) keep[count++] = i;
  }
  return keep.slice(0, count);
}

/**
 * Box areas, as torchvision's `box_area`: (x2 - x1) * (y2 - y1) in float32 (negative for an
 * inverted box, as torchvision's).
 * @param boxes Float32Array [N, 4] x1,y1,x2,y2
 * @returns Float32Array [N]
 */
export function boxArea(boxes: Float32Array): Float32Array {
  const n = boxCount('boxArea', 'boxes', boxes);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Math.fround(boxes[4 * i + 2] - boxes[4 * i]) * Math.fround(boxes[4 * i + 3] - boxes[4 * i + 1]);
  }
  return out;
}

/**
 * Pairwise IoU, as torchvision's `box_iou`: inter / (area1 + area2 - inter) in float32, without
 * the legacy +1 on sides.
 * @param boxes1 Float32Array [N, 4] x1,y1,x2,y2
 * @param boxes2 Float32Array [M, 4] x1,y1,x2,y2
 * @returns Float32Array [N, M] row-major; 0/0 (two empty boxes) gives NaN, as in torchvision
 */
export function boxIou(boxes1: Float32Array, boxes2: Float32Array): Float32Array {
  const n = boxCount('boxIou', 'boxes1', boxes1);
  const m = boxCount('boxIou', 'boxes2', boxes2);
  const area1 = boxArea(boxes1);
  const area2 = boxArea(boxes2);
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    const ax1 = boxes1[4 * i], ay1 = boxes1[4 * i + 1], ax2 = boxes1[4 * i + 2], ay2 = boxes1[4 * i + 3];
    const a1 = area1[i];
    for (let j = 0; j < m; j++) {
      const w = Math.fround(Math.min(ax2, boxes2[4 * j + 2]) - Math.max(ax1, boxes2[4 * j]));
      const h = Math.fround(Math.min(ay2, boxes2[4 * j + 3]) - Math.max(ay1, boxes2[4 * j + 1]));
      // `.clamp(min=0)`: written as a comparison so a NaN side stays NaN, as torch's clamp keeps it
      const inter = Math.fround((w < 0 ? 0 : w) * (h < 0 ? 0 : h));
      out[i * m + j] = inter / Math.fround(Math.fround(a1 + area2[j]) - inter);
    }
  }
  return out;
}
