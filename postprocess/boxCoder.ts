/**
 * torchvision 0.14's `BoxCoder` (models/detection/_utils.py): boxes <-> regression deltas.
 *
 * Glossary: N = number of reference boxes (anchors or proposals), K = number of classes whose
 * deltas are decoded against each reference box (1 in the RPN, num_classes in the box head).
 * Deltas are (dx, dy, dw, dh) divided by / multiplied with weights (wx, wy, ww, wh).
 *
 * The arithmetic is float32 step by step in torchvision's order (every intermediate rounded with
 * Math.fround, which equals the float32 operation for + - * /). exp and log are the one place we
 * can differ: torch uses SLEEF's vectorised float32 exp/log (within 1 ulp), we round the
 * correctly-rounded double result, so a decoded coordinate can differ by an ulp of pred_w.
 * Non-finite deltas propagate as in torch (dw = +Infinity is clipped, NaN stays NaN).
 */
import { boxCount } from './boxes.js';
import { OperatorInputError } from './errors.js';

/** (wx, wy, ww, wh): RPN (1, 1, 1, 1), Fast R-CNN box head (10, 10, 5, 5). */
export type BoxCoderWeights = readonly [wx: number, wy: number, ww: number, wh: number];

/** torchvision's `bbox_xform_clip`, log(1000 / 16): the largest dw / dh fed to exp. */
export const BBOX_XFORM_CLIP = Math.log(1000 / 16);

function checkWeights(operator: string, weights: BoxCoderWeights): void {
  if (weights.length !== 4 || !weights.every((w) => Number.isFinite(w) && w !== 0)) {
    throw new OperatorInputError(operator, `weights must be 4 finite non-zero numbers (wx, wy, ww, wh), got [${weights.join(', ')}]`);
  }
}

/**
 * Decodes regression deltas against reference boxes, as `BoxCoder.decode_single`; deltas for K
 * classes per box are decoded against the same box, as roi_heads does.
 * @param relCodes Float32Array [N, K*4] deltas (dx, dy, dw, dh) per class
 * @param boxes Float32Array [N, 4] reference boxes x1,y1,x2,y2 (anchors or proposals)
 * @param weights (wx, wy, ww, wh)
 * @param bboxXformClip upper clamp of dw / dh before exp; torchvision's default log(1000 / 16)
 * @returns Float32Array [N, K*4] (i.e. [N, K, 4]) decoded boxes x1,y1,x2,y2
 */
export function decodeBoxes(
  relCodes: Float32Array, boxes: Float32Array, weights: BoxCoderWeights, bboxXformClip: number = BBOX_XFORM_CLIP,
): Float32Array {
  const n = boxCount('decodeBoxes', 'boxes', boxes);
  checkWeights('decodeBoxes', weights);
  if (!(relCodes instanceof Float32Array)) throw new OperatorInputError('decodeBoxes', 'relCodes must be a Float32Array [N, K*4]');
  if (Number.isNaN(bboxXformClip)) throw new OperatorInputError('decodeBoxes', 'bboxXformClip is NaN');
  if (n === 0) {
    if (relCodes.length !== 0) throw new OperatorInputError('decodeBoxes', `boxes is empty but relCodes has ${relCodes.length} numbers`);
    return new Float32Array(0);
  }
  if (relCodes.length % (4 * n) !== 0) {
    throw new OperatorInputError('decodeBoxes', `relCodes has ${relCodes.length} numbers, not [N, K*4] for N = ${n} boxes`);
  }
  const perBox = relCodes.length / n;
  // torch casts Python scalars (the weights, the clamp bound) to the tensor's dtype.
  const [wx, wy, ww, wh] = weights.map(Math.fround) as [number, number, number, number];
  const clip = Math.fround(bboxXformClip);
  const f = Math.fround;
  const out = new Float32Array(relCodes.length);
  for (let i = 0; i < n; i++) {
    const x1 = boxes[4 * i], y1 = boxes[4 * i + 1];
    const widths = f(boxes[4 * i + 2] - x1);
    const heights = f(boxes[4 * i + 3] - y1);
    const ctrX = f(x1 + f(0.5 * widths));
    const ctrY = f(y1 + f(0.5 * heights));
    for (let c = i * perBox, end = c + perBox; c < end; c += 4) {
      const dx = f(relCodes[c] / wx);
      const dy = f(relCodes[c + 1] / wy);
      let dw = f(relCodes[c + 2] / ww);
      let dh = f(relCodes[c + 3] / wh);
      if (dw > clip) dw = clip;
      if (dh > clip) dh = clip;
      const predCtrX = f(f(dx * widths) + ctrX);
      const predCtrY = f(f(dy * heights) + ctrY);
      // torchvision: c_to_c_w = 0.5 * pred_w, and the corners are centre -/+ that half size.
      const cToCW = f(0.5 * f(f(Math.exp(dw)) * widths));
      const cToCH = f(0.5 * f(f(Math.exp(dh)) * heights));
      out[c] = predCtrX - cToCW;
      out[c + 1] = predCtrY - cToCH;
      out[c + 2] = predCtrX + cToCW;
      out[c + 3] = predCtrY + cToCH;
    }
  }
  return out;
}

/**
 * Encodes boxes as regression targets relative to proposals, as torchvision's `encode_boxes`
 * (`BoxCoder.encode_single`), used for training targets.
 * @param referenceBoxes Float32Array [N, 4] ground-truth boxes x1,y1,x2,y2
 * @param proposals Float32Array [N, 4] boxes the targets are relative to
 * @param weights (wx, wy, ww, wh)
 * @returns Float32Array [N, 4] (dx, dy, dw, dh); a zero-width proposal gives ±Infinity/NaN as in torch
 */
export function encodeBoxes(referenceBoxes: Float32Array, proposals: Float32Array, weights: BoxCoderWeights): Float32Array {
  const n = boxCount('encodeBoxes', 'referenceBoxes', referenceBoxes);
  const m = boxCount('encodeBoxes', 'proposals', proposals);
  if (n !== m) throw new OperatorInputError('encodeBoxes', `referenceBoxes has ${n} boxes but proposals has ${m}`);
  checkWeights('encodeBoxes', weights);
  const f = Math.fround;
  const [wx, wy, ww, wh] = weights.map(Math.fround) as [number, number, number, number];
  const out = new Float32Array(4 * n);
  for (let i = 0; i < 4 * n; i += 4) {
    const exWidths = f(proposals[i + 2] - proposals[i]);
    const exHeights = f(proposals[i + 3] - proposals[i + 1]);
    const exCtrX = f(proposals[i] + f(0.5 * exWidths));
    const exCtrY = f(proposals[i + 1] + f(0.5 * exHeights));
    const gtWidths = f(referenceBoxes[i + 2] - referenceBoxes[i]);
    const gtHeights = f(referenceBoxes[i + 3] - referenceBoxes[i + 1]);
    const gtCtrX = f(referenceBoxes[i] + f(0.5 * gtWidths));
    const gtCtrY = f(referenceBoxes[i + 1] + f(0.5 * gtHeights));
    // torchvision: wx * (gt_ctr_x - ex_ctr_x) / ex_widths, left to right
    out[i] = f(wx * f(gtCtrX - exCtrX)) / exWidths;
    out[i + 1] = f(wy * f(gtCtrY - exCtrY)) / exHeights;
    out[i + 2] = ww * f(Math.log(f(gtWidths / exWidths)));
    out[i + 3] = wh * f(Math.log(f(gtHeights / exHeights)));
  }
  return out;
}
