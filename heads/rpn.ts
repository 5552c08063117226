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
 * The anchors the RPN keeps before NMS: per level the top preNmsTopN by objectness logit, with
 * their deltas. On the CPU `selectPreNmsTopN` computes it from the head's outputs; a GPU provider
 * computes it where the head's outputs are (gpu/rpnTopK.ts) and sends only this back.
 * T: anchors kept over all levels.
 */
export interface PreNmsSelection {
  /** [T] indices into the image's anchors (level, y, x, anchor order), by level, then decreasing logit */
  indices: Int32Array;
  /** [T] objectness logits */
  logits: Float32Array;
  /** [T, 4] deltas (dx, dy, dw, dh) */
  deltas: Float32Array;
  /** [T] level of each */
  levels: Int32Array;
}

/** Each level's anchor range [start, end) in anchor order, and how many of it the top-k keeps. */
export function levelRanges(gridSizes: ReadonlyArray<[number, number]>, perLocation: readonly number[], preNmsTopN: number): Array<{ start: number; end: number; k: number }> {
  let start = 0;
  return gridSizes.map(([h, w], l) => {
    const count = h * w * perLocation[l];
    const range = { start, end: start + count, k: Math.min(preNmsTopN, count) };
    start += count;
    return range;
  });
}

/** select the top-k anchors of each level by objectness logit (torchvision's `_get_top_n_idx`) */
export function selectPreNmsTopN(head: RpnHeadOutputs, cfg: RpnConfig): PreNmsSelection {
  const ranges = levelRanges(head.gridSizes, anchorsPerLocation(cfg), cfg.preNmsTopN);
  const picked = ranges.map((r) => topK(head.objectness, r.k, r.start, r.end - r.start));
  const total = picked.reduce((n, p) => n + p.length, 0);
  const sel: PreNmsSelection = { indices: new Int32Array(total), logits: new Float32Array(total), deltas: new Float32Array(total * 4), levels: new Int32Array(total) };
  let k = 0;
  picked.forEach((indices, level) => {
    for (const i of indices) {
      sel.indices[k] = i;
      copyBox(head.deltas, i, sel.deltas, k);
      sel.logits[k] = head.objectness[i];
      sel.levels[k++] = level;
    }
  });
  return sel;
}

/**
 * Proposals for one image.
 * @param head the RPN head's outputs
 * @param paddedSize (H, W) of the padded batch tensor: anchor strides are `H // Hi` as torchvision computes them
 * @param imageSize (h, w) of the resized image before padding: proposals are clipped to it
 */
export function proposeRegions(head: RpnHeadOutputs, cfg: RpnConfig, paddedSize: [number, number], imageSize: [number, number]): Proposals {
  return proposalsFromSelection(selectPreNmsTopN(head, cfg), head.gridSizes, cfg, paddedSize, imageSize);
}

/** The rest of `proposeRegions` after the top-k: decode, clip, filter, NMS per level. */
export function proposalsFromSelection(sel: PreNmsSelection, gridSizes: Array<[number, number]>, cfg: RpnConfig, paddedSize: [number, number], imageSize: [number, number]): Proposals {
  const c = rpnNmsCandidates(sel, gridSizes, cfg, paddedSize, imageSize);
  // non-maximum suppression, independently per level; keep the best postNmsTopN
  const keep = batchedNms(c.boxes, c.scores, c.levels, cfg.nmsThresh, cfg.postNmsTopN);
  return gather(c.boxes, c.scores, keep);
}

/** The boxes that go into the RPN's per-level NMS, with their scores and level indices. */
export interface RpnNmsCandidates extends Proposals {
  /** [N] level of each box (the NMS's categories). */
  levels: Int32Array;
}

/**
 * {@link proposalsFromSelection} up to its NMS (decode, clip, drop small and low-scoring boxes),
 * for callers that run the NMS elsewhere (a GPU) and then take `gather(boxes, scores, keep)`.
 */
export function rpnNmsCandidates(sel: PreNmsSelection, gridSizes: Array<[number, number]>, cfg: RpnConfig, paddedSize: [number, number], imageSize: [number, number]): RpnNmsCandidates {
  const anchors = anchorsFor(cfg, gridSizes, paddedSize);
  const selectedAnchors = new Float32Array(sel.indices.length * 4);
  for (let k = 0; k < sel.indices.length; k++) copyBox(anchors, sel.indices[k], selectedAnchors, k);

  // decode (only the selected: decoding is per box, so this equals decoding all first), clip
  const boxes = clipBoxesToImage(decodeBoxes(sel.deltas, selectedAnchors, cfg.boxCoderWeights), imageSize);
  // remove small boxes, then low-scoring ones
  const probs = sel.logits.map(sigmoid);
  const kept = removeSmallBoxes(boxes, cfg.minSize).filter((i) => probs[i] >= cfg.scoreThresh);
  const { boxes: keptBoxes, scores: keptScores } = gather(boxes, probs, kept);
  return { boxes: keptBoxes, scores: keptScores, levels: kept.map((i) => sel.levels[i]) };
}

/** boxes[keep], scores[keep]. */
export function gather(boxes: Float32Array, scores: Float32Array, keep: ArrayLike<number>): Proposals {
  const out = { boxes: new Float32Array(keep.length * 4), scores: new Float32Array(keep.length) };
  for (let j = 0; j < keep.length; j++) {
    const i = keep[j];
    copyBox(boxes, i, out.boxes, j);
    out.scores[j] = scores[i];
  }
  return out;
}

/** to[4j .. 4j + 4] = from[4i .. 4i + 4], without a subarray view per box (thousands per image). */
function copyBox(from: Float32Array, i: number, to: Float32Array, j: number): void {
  to[4 * j] = from[4 * i];
  to[4 * j + 1] = from[4 * i + 1];
  to[4 * j + 2] = from[4 * i + 2];
  to[4 * j + 3] = from[4 * i + 3];
}

/** The last anchors generated, by what they depend on: images of one size reuse them. */
let lastAnchors: { key: string; anchors: Float32Array } | undefined;

/** The image's anchors over all levels (`generateAnchors`), reused while the sizes and config stay the same. */
function anchorsFor(cfg: RpnConfig, gridSizes: Array<[number, number]>, paddedSize: [number, number]): Float32Array {
  const key = JSON.stringify([cfg.anchorSizes, cfg.aspectRatios, gridSizes, paddedSize]);
  if (lastAnchors?.key !== key) {
    const anchorConfig = { sizes: cfg.anchorSizes, aspectRatios: gridSizes.map(() => cfg.aspectRatios) };
    lastAnchors = { key, anchors: generateAnchors(anchorConfig, gridSizes, paddedSize) };
  }
  return lastAnchors.anchors;
}
