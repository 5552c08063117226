/**
 * Mask pasting on the GPU: torchvision 0.14's `paste_masks_in_image` (the CPU reference is
 * postprocess/pasteMasks.ts) as ONNX ops that onnxruntime's WebGPU provider runs on the GPU, so
 * the full-image masks [D, H, W] are made where they are drawn and never cross to the CPU.
 *
 * D: detections, M: mask side (28), p: padding (1), Mp = M + 2p, H, W: the image's size.
 *
 * The bilinear resize (align_corners=False) of the zero-padded Mp x Mp mask into the expanded box is
 * separable, so each mask is pasted as two matrix products, out = Ry · mask · Rx, where Ry [H, M]
 * (and Rx [M, W]) hold each image row's (column's) two bilinear taps over the mask's rows:
 * - the box is torchvision's `expand_boxes(...).to(int64)`, computed on the CPU with the
 *   reference's own `expandBoxesToInt` (exact truncation; D x 4 numbers go up);
 * - for image row y of a box with integer rows by1..by2, h = max(by2 - by1 + 1, 1) and
 *   src = clamp((Mp / h) * (y - by1 + 0.5) - 0.5, 0, Mp - 1) (torch's
 *   `compute_source_index_and_lambda`; clamping at Mp - 1 gives the kernel's repeated last tap);
 * - the tap weight on padded row k is max(0, 1 - |src - k|): lambda0 on floor(src), lambda1 on the
 *   next; the padding's rows and columns are zero, so only k = p .. p + M - 1 are kept;
 * - rows outside by1..by2 get no weight, so pixels outside the box are 0 as in torchvision.
 * The sums run in float32 in another order than torch's (double accumulation), so probabilities
 * agree to ~1e-6 and a binary pixel can differ only where the probability ties the threshold.
 */
import { GraphBuilder, type OnnxModel, type Value, attr } from '../onnx/index.js';

/** What the paste graph returns: pasted probabilities, or the threshold's 0 / 1. */
export type GpuMaskForm = 'probability' | 'binary';

/** Options of {@link buildPasteMasks}. */
export interface GpuPasteSpec {
  /** M: the side of the square predicted masks (28 in Mask R-CNN). */
  maskSize: number;
  /** Zero border around each mask, the box grown to match (torchvision's `padding=1`). */
  padding: number;
  /** 'probability': float32 [D, H, W]; 'binary': uint8 [D, H, W] of 0 / 1 after the threshold. */
  form: GpuMaskForm;
  /**
   * For 'binary': `'greater'` keeps probability > threshold (torchvision's `masks > 0.5`),
   * `'greaterOrEqual'` keeps >= (Detectron2's paste). Default 'greater'.
   */
  thresholdRule?: 'greater' | 'greaterOrEqual';
}

/** Input and output names of the paste graph. */
export const pasteMasksIo = {
  masks: 'masks', boxes: 'pasteBoxes', imageSize: 'imageSize', threshold: 'maskThreshold', output: 'pastedMasks',
} as const;

/**
 * The paste graph. Inputs: `masks` float32 [D, M, M] probabilities; `pasteBoxes` float32 [D, 4]
 * the integer boxes of `expandBoxesToInt(boxes, Mp / M)` (x1, y1, x2, y2, image pixels);
 * `imageSize` int64 [2] (H, W); for 'binary' also `maskThreshold` float32 [1].
 * Output `pastedMasks` [D, H, W]: float32 probabilities, or uint8 0 / 1.
 * @throws RangeError for a mask size or padding that is not a non-negative integer (M > 0)
 */
export function buildPasteMasks(spec: GpuPasteSpec): OnnxModel {
  const { maskSize: m, padding: p, form } = spec;
  if (!(Number.isInteger(m) && m > 0)) throw new RangeError(`mask paste graph: maskSize must be an integer > 0, got ${m}`);
  if (!(Number.isInteger(p) && p >= 0)) throw new RangeError(`mask paste graph: padding must be an integer >= 0, got ${p}`);
  if (form !== 'probability' && form !== 'binary') throw new RangeError(`mask paste graph: form must be 'probability' or 'binary', got '${String(form)}'`);
  const g = new GraphBuilder(`pasteMasks_${form}`);
  const masks = g.input(pasteMasksIo.masks, 'float32', ['D', m, m]);
  const boxes = g.input(pasteMasksIo.boxes, 'float32', ['D', 4]);
  const imageSize = g.input(pasteMasksIo.imageSize, 'int64', [2]);
  const size = g.node('Cast', [imageSize], { to: attr.int(1) })[0]; // [2] float
  const column = (i: number) => g.reshape(g.slice(boxes, [i], [i + 1], [1]), g.constInt64([-1, 1, 1])); // [D, 1, 1]
  const [bx1, by1, bx2, by2] = [0, 1, 2, 3].map(column);
  const rowTaps = axisTaps(g, by1, by2, g.slice(size, [0], [1], [0]), m, p, 'rows'); // [D, H, M]
  const colTaps = axisTaps(g, bx1, bx2, g.slice(size, [1], [2], [0]), m, p, 'columns'); // [D, M, W]
  // (D, H, M) x (D, M, M) -> (D, H, M); then x (D, M, W) -> (D, H, W)
  const pasted = g.matMul(g.matMul(rowTaps, masks), colTaps);
  if (form === 'probability') {
    g.output(pasted, pasteMasksIo.output, 'float32', ['D', 'H', 'W']);
  } else {
    const threshold = g.input(pasteMasksIo.threshold, 'float32', [1]);
    const op = (spec.thresholdRule ?? 'greater') === 'greater' ? 'Greater' : 'GreaterOrEqual';
    const kept = g.node(op, [pasted, threshold])[0];
    g.output(g.node('Cast', [kept], { to: attr.int(2) })[0], pasteMasksIo.output, 'uint8', ['D', 'H', 'W']); // 2: uint8
  }
  return g.toModel({ opset: 17 });
}

/**
 * One axis's bilinear tap matrix: for rows, [D, H, M] (image row by mask row); for columns, the
 * transposed layout [D, M, W], so the two MatMuls need no Transpose.
 * @param lo [D, 1, 1] the box's first integer row (column); hi: its last
 * @param extent [1] the image's height (width) as float
 */
function axisTaps(g: GraphBuilder, lo: Value, hi: Value, extent: Value, m: number, p: number, axis: 'rows' | 'columns'): Value {
  const side = m + 2 * p;
  const zero = g.constFloat([0], [1]);
  const one = g.constFloat([1], [1]);
  const half = g.constFloat([0.5], [1]);
  // image indices 0 .. extent - 1, along axis 1 (rows) or 2 (columns)
  const indices = g.node('Range', [zero, extent, one])[0]; // [H] or [W]
  const along = g.reshape(indices, g.constInt64(axis === 'rows' ? [1, -1, 1] : [1, 1, -1]));
  const outSize = g.node('Max', [g.add(g.sub(hi, lo), one), one])[0]; // [D, 1, 1] max(h, 1)
  const ratio = g.div(g.constFloat([side], [1]), outSize); // float(Mp) / h, as area_pixel_compute_scale
  const dst = g.sub(along, lo); // [D, H, 1] position inside the box
  const src = g.node('Min', [g.node('Max', [g.sub(g.mul(ratio, g.add(dst, half)), half), zero])[0], g.constFloat([side - 1], [1])])[0];
  // the kept padded rows p .. p + M - 1 (the padding's are zero)
  const padded = g.constFloat(Array.from({ length: m }, (_, k) => k + p), axis === 'rows' ? [1, 1, m] : [1, m, 1]);
  const weight = g.relu(g.sub(one, g.node('Abs', [g.sub(src, padded)])[0])); // [D, H, M] or [D, M, W]
  // only rows (columns) lo .. hi of the image lie in the box
  const asFloat = (v: Value) => g.node('Cast', [v], { to: attr.int(1) })[0];
  const inside = g.mul(asFloat(g.node('GreaterOrEqual', [dst, zero])[0]), asFloat(g.node('LessOrEqual', [along, hi])[0]));
  return g.mul(weight, inside);
}
