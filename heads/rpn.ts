/**
 * Region proposals at test time, as torchvision 0.14's RegionProposalNetwork.forward +
 * filter_proposals: per level top-k by objectness logit, decode against the anchors, sigmoid,
 * clip, drop small and low-scoring boxes, NMS per level, keep the best postNmsTopN.
 *
 * R: anchors of the image over all levels (sum of Hi*Wi*A), P: proposals kept.
 */
import { type RpnConfig, anchorsPerLocation } from './config.js';
import {
  batchedNms, clipBoxesToImage, decodeBoxes, generateAnchors, removeSmallBoxes, topK,
} from '../postprocess/typed.js';

/** Proposals of one image: boxes [P, 4] x1,y1,x2,y2 in input pixels, and objectness probabilities [P]. */
export interface Proposals {
  boxes: Float32Array;
  scores: Float32Array;
}

/** The RPN head's outputs for one image, in anchor order (level, y, x, anchor). */
export interface RpnHeadOutputs {
  /** [R] logits */
  objectness: Float32Array;
  /** [R, 4] deltas (dx, dy, dw, dh) */
  deltas: Float32Array;
  /** (Hi, Wi) of each level, in anchor order. */
  gridSizes: Array<[number, number]>;
}

function sigmoid(x: number): number {
  return Math.fround(1 / (1 + Math.exp(-x)));
}

/**
 * Proposals for one image.
 * @param head the RPN head's outputs
 * @param paddedSize (H, W) of the padded batch tensor: anchor strides are `H // Hi` as torchvision computes them
 * @param imageSize (h, w) of the resized image before padding: proposals are clipped to it
 */
export function proposeRegions(head: RpnHeadOutputs, cfg: RpnConfig, paddedSize: [number, number], imageSize: [number, number]): Proposals {
  const anchorConfig = { sizes: cfg.anchorSizes, aspectRatios: head.gridSizes.map(() => cfg.aspectRatios) };
  const anchors = generateAnchors(anchorConfig, head.gridSizes, paddedSize);
  const perLocation = anchorsPerLocation(cfg);

  // select the top-k anchors of each level by objectness logit
  const picked: Int32Array[] = [];
  let start = 0;
  for (const [l, [h, w]] of head.gridSizes.entries()) {
    const count = h * w * perLocation[l];
    picked.push(topK(head.objectness, cfg.preNmsTopN, start, count));
    start += count;
  }
  const total = picked.reduce((n, p) => n + p.length, 0);
  const selectedDeltas = new Float32Array(total * 4);
  const selectedAnchors = new Float32Array(total * 4);
  const logits = new Float32Array(total);
  const levels = new Int32Array(total);
  let k = 0;
  picked.forEach((indices, level) => {
    for (const i of indices) {
      selectedDeltas.set(head.deltas.subarray(4 * i, 4 * i + 4), 4 * k);
      selectedAnchors.set(anchors.subarray(4 * i, 4 * i + 4), 4 * k);
      logits[k] = head.objectness[i];
      levels[k++] = level;
    }
  });

  // decode (only the selected: decoding is per box, so this equals decoding all first), clip
  const boxes = clipBoxesToImage(decodeBoxes(selectedDeltas, selectedAnchors, cfg.boxCoderWeights), imageSize);
  // remove small boxes, then low-scoring ones
  const probs = logits.map(sigmoid);
  const kept = removeSmallBoxes(boxes, cfg.minSize).filter((i) => probs[i] >= cfg.scoreThresh);
  const { boxes: keptBoxes, scores: keptScores } = gather(boxes, probs, kept);
  const keptLevels = kept.map((i) => levels[i]);
  // non-maximum suppression, independently per level; keep the best postNmsTopN
  const keep = batchedNms(keptBoxes, keptScores, keptLevels, cfg.nmsThresh).subarray(0, cfg.postNmsTopN);
  return gather(keptBoxes, keptScores, keep);
}

/** boxes[keep], scores[keep]. */
export function gather(boxes: Float32Array, scores: Float32Array, keep: ArrayLike<number>): Proposals {
  const out = { boxes: new Float32Array(keep.length * 4), scores: new Float32Array(keep.length) };
  for (let j = 0; j < keep.length; j++) {
    const i = keep[j];
    out.boxes.set(boxes.subarray(4 * i, 4 * i + 4), 4 * j);
    out.scores[j] = scores[i];
  }
  return out;
}
