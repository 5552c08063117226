/**
 * Detections from the box head's outputs, as torchvision 0.14's RoIHeads.postprocess_detections:
 * softmax, per-class decode against the proposals, clip, drop the background, drop low scores
 * and tiny boxes, NMS per class, keep the best detectionsPerImage.
 *
 * K: proposals, L: classes including background, D: detections kept.
 */
import { batchedNms, clipBoxesToImage, decodeBoxes, removeSmallBoxes } from '../postprocess/typed.js';
import type { RoiHeadsConfig } from './config.js';

/** Detections of one image in input (resized) pixels. */
export interface Detections {
  /** [D, 4] x1,y1,x2,y2 */
  boxes: Float32Array;
  /** [D] class probabilities */
  scores: Float32Array;
  /** [D] labels in 1..L-1 */
  labels: Int32Array;
}

/**
 * Row-wise softmax in float32, as F.softmax(x, -1): exp(x - max) / sum.
 * @param logits [K, L]
 */
export function softmaxRows(logits: Float32Array, classes: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length; r += classes) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[r + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const e = Math.fround(Math.exp(logits[r + c] - max));
      out[r + c] = e;
      sum += e;
    }
    const total = Math.fround(sum);
    for (let c = 0; c < classes; c++) out[r + c] = out[r + c] / total;
  }
  return out;
}

/**
 * @param classLogits [K, L] box head class logits
 * @param boxDeltas [K, L*4] box head per-class deltas
 * @param proposals [K, 4] the RoIs the head saw
 * @param imageSize (h, w) of the resized image
 */
export function postprocessDetections(
  classLogits: Float32Array, boxDeltas: Float32Array, proposals: Float32Array, imageSize: [number, number], cfg: RoiHeadsConfig,
): Detections {
  const sel = detectionCandidates(classLogits, boxDeltas, proposals, imageSize, cfg);
  // non-maximum suppression, independently done per class; keep the best detectionsPerImage
  const keep = batchedNms(sel.boxes, sel.scores, sel.labels, cfg.nmsThresh, cfg.detectionsPerImage);
  return selectDetections(sel, keep);
}

/**
 * {@link postprocessDetections} up to its NMS (decode, softmax, drop background, low-scoring and
 * empty boxes): the candidates, one per (RoI, class), for an NMS run elsewhere (a GPU); then
 * `selectDetections(candidates, keep)`.
 */
export function detectionCandidates(
  classLogits: Float32Array, boxDeltas: Float32Array, proposals: Float32Array, imageSize: [number, number], cfg: RoiHeadsConfig,
): Detections {
  const count = proposals.length / 4;
  const classes = count === 0 ? 0 : classLogits.length / count;
  const boxes = clipBoxesToImage(decodeBoxes(boxDeltas, proposals, cfg.boxCoderWeights), imageSize);
  const scores = softmaxRows(classLogits, classes);

  // remove predictions with the background label, and low scoring boxes
  const candidates: number[] = [];
  for (let k = 0; k < count; k++) {
    for (let c = 1; c < classes; c++) if (scores[k * classes + c] > cfg.scoreThresh) candidates.push(k * classes + c);
  }
  const candBoxes = new Float32Array(candidates.length * 4);
  const candScores = new Float32Array(candidates.length);
  const candLabels = new Int32Array(candidates.length);
  candidates.forEach((flat, j) => {
    candBoxes.set(boxes.subarray(4 * flat, 4 * flat + 4), 4 * j);
    candScores[j] = scores[flat];
    candLabels[j] = flat % classes;
  });
  // remove empty boxes
  const big = removeSmallBoxes(candBoxes, cfg.minSize);
  return select(candBoxes, candScores, candLabels, big);
}

/** The detections `keep` picks, in its order. */
export function selectDetections(d: Detections, keep: Int32Array): Detections {
  return select(d.boxes, d.scores, d.labels, keep);
}

function select(boxes: Float32Array, scores: Float32Array, labels: Int32Array, keep: Int32Array): Detections {
  const out = { boxes: new Float32Array(keep.length * 4), scores: new Float32Array(keep.length), labels: new Int32Array(keep.length) };
  keep.forEach((i, j) => {
    out.boxes.set(boxes.subarray(4 * i, 4 * i + 4), 4 * j);
    out.scores[j] = scores[i];
    out.labels[j] = labels[i];
  });
  return out;
}
