/**
 * Non-maximum suppression split as torchvision's CUDA kernel splits it: the GPU computes, for boxes
 * sorted by decreasing score, the bitmask of which pairs overlap (IoU > threshold, 32 boxes per
 * int32 word), and the CPU scans it greedily (`scanSuppressionMask`). Also the CUDA provider's own
 * NonMaxSuppression as a graph. Both are held equal to postprocess/nms by tests.
 *
 * N: boxes (Np: N rounded up to a multiple of 32), W = Np / 32 words per row, M: kept boxes.
 */
import { GraphBuilder, type OnnxModel, type Value, attr } from '../onnx/index.js';

/** Boxes per mask word. */
export const MASK_WORD_BITS = 32;

/**
 * The IoU bitmask graph. Inputs `boxes` [Np, 4] x1,y1,x2,y2 (Np a multiple of 32) and `iouThreshold`
 * [1]; output `mask` int32 [Np, W]: bit b of word w of row i is set when IoU(box i, box 32w + b) >
 * iouThreshold, IoU in float32 without the legacy +1 (zero-area and inverted boxes overlap nothing).
 */
export function buildNmsMask(): OnnxModel {
  const g = new GraphBuilder('nmsMask');
  const boxes = g.input('boxes', 'float32', ['N', 4]);
  const threshold = g.input('iouThreshold', 'float32', [1]);
  const column = (i: number) => g.slice(boxes, [i], [i + 1], [1]); // [N, 1]
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map(column);
  const row = (v: Value) => g.transpose(v, [1, 0]); // [1, N]
  const overlap = (lo: Value, hi: Value) => g.node('Max', [
    g.sub(g.node('Min', [hi, row(hi)])[0], g.node('Max', [lo, row(lo)])[0]), g.constFloat([0], [1]),
  ])[0]; // [N, N]
  const inter = g.mul(overlap(x1, x2), overlap(y1, y2));
  const area = g.mul(g.sub(x2, x1), g.sub(y2, y1)); // [N, 1]
  const union = g.sub(g.add(area, row(area)), inter);
  const over = g.node('Greater', [g.div(inter, union), threshold])[0]; // NaN (0 / 0) compares false
  const bits = g.reshape(g.node('Cast', [over], { to: attr.int(6) })[0], g.constInt64([0, -1, MASK_WORD_BITS])); // [N, W, 32]
  // Distinct powers of two add up to their OR; bit 31 is int32's sign bit (-2^31).
  const powers = g.constInt64(Array.from({ length: MASK_WORD_BITS }, (_, b) => (1 << b) | 0));
  const weights = g.node('Cast', [powers], { to: attr.int(6) })[0]; // int32, folded at session creation
  const words = g.node('ReduceSum', [g.mul(bits, weights), g.constInt64([2])], { keepdims: attr.int(0) })[0];
  g.output(words, 'mask', 'int32', ['N', 'W']);
  return g.toModel();
}

/**
 * The greedy scan over a suppression bitmask, on the CPU: visit boxes in mask order, keep one unless
 * a kept box before it overlaps it.
 * @param mask Int32Array [Np, W] from the mask graph
 * @param n the real boxes (the rows and columns past n are padding)
 * @returns Int32Array [M] kept positions in mask order
 */
export function scanSuppressionMask(mask: Int32Array, n: number, words: number): Int32Array {
  const removed = new Int32Array(words);
  const keep = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    if ((removed[i >>> 5] >>> (i & 31)) & 1) continue;
    keep[count++] = i;
    const rowStart = i * words;
    for (let w = i >>> 5; w < words; w++) removed[w] |= mask[rowStart + w];
  }
  return keep.slice(0, count);
}

/** Indices of `scores` by decreasing score, ties by index (the order torchvision's kernel visits). */
export function scoreOrder(scores: Float32Array): Int32Array {
  return Int32Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
}

/**
 * The mask graph's `boxes` feed: `boxes` in `order`, padded with zero boxes to a multiple of 32.
 * @returns [Np, 4] and Np
 */
export function sortedPaddedBoxes(boxes: Float32Array, order: Int32Array): { data: Float32Array; padded: number } {
  const padded = Math.ceil(order.length / MASK_WORD_BITS) * MASK_WORD_BITS;
  const data = new Float32Array(4 * padded);
  order.forEach((i, k) => data.set(boxes.subarray(4 * i, 4 * i + 4), 4 * k));
  return { data, padded };
}

/**
 * ONNX NonMaxSuppression (opsets 10 and 11+ on the CUDA provider), as one graph. Inputs `boxes`
 * [N, 4] x1,y1,x2,y2, `scores` [N], `iouThreshold` [1]; output `keep` int64 [M], by decreasing
 * score. `center_point_box` 0: corners, as torchvision.
 * @param opset 10 or 11+ (the model's default-domain opset)
 */
export function buildNonMaxSuppression(opset = 11): OnnxModel {
  const g = new GraphBuilder('nonMaxSuppression');
  const boxes = g.input('boxes', 'float32', ['N', 4]);
  const scores = g.input('scores', 'float32', ['N']);
  const threshold = g.input('iouThreshold', 'float32', [1]);
  const n = g.shape(scores); // keep every box that survives: max_output_boxes_per_class = N
  const selected = g.node('NonMaxSuppression', [
    g.reshape(boxes, g.constInt64([1, -1, 4])), g.reshape(scores, g.constInt64([1, 1, -1])), n, threshold,
  ], { center_point_box: attr.int(0) })[0]; // [M, 3] (batch, class, box)
  const keep = g.reshape(g.slice(selected, [2], [3], [1]), g.constInt64([-1]));
  g.output(keep, 'keep', 'int64', ['M']);
  return g.toModel({ opset });
}
