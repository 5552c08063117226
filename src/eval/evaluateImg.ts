/**
 * COCOeval.computeIoU and COCOeval.evaluateImg: per image and category, the IoUs between the top
 * detections and the ground truths, then greedy matching at each IoU threshold.
 *
 * Shapes: D detections (after the maxDets cut), G ground truths, T IoU thresholds.
 */
import { rleIou } from '../../postprocess/typed.js';
import type { EvalAnn, IouType } from './types.js';

/** What evaluateImg keeps for one (image, category, area range). */
export interface ImageEval {
  /** [D] scores, highest first. */
  dtScores: Float64Array;
  /** [T, D] id of the matched ground truth, 0 when unmatched (so a gt of id 0 reads as unmatched, as in pycocotools). */
  dtMatches: Float64Array;
  /** [T, D] 1 where the detection is ignored. */
  dtIgnore: Uint8Array;
  /** [G] 1 where the ground truth is ignored (crowd or outside the area range). */
  gtIgnore: Uint8Array;
}

/** Indices that sort `scores` highest first, ties in input order (np.argsort(-s, kind='mergesort')). */
export function argsortDescending(scores: ArrayLike<number>): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  // Array.prototype.sort is stable, as numpy's mergesort.
  return idx.sort((i, j) => (scores[j] > scores[i] ? 1 : scores[j] < scores[i] ? -1 : 0));
}

/** Detections highest score first, at most maxDet of them. */
export function sortDetections(dt: readonly EvalAnn[], maxDet: number): EvalAnn[] {
  return argsortDescending(dt.map((d) => d.score)).slice(0, maxDet).map((i) => dt[i]);
}

/** maskApi.c's bbIou: IoU of xywh boxes; for a crowd gt the union is the detection's area. */
function boxIou(d: readonly number[], g: readonly number[], crowd: boolean): number {
  const w = Math.min(d[2] + d[0], g[2] + g[0]) - Math.max(d[0], g[0]);
  if (w <= 0) return 0;
  const h = Math.min(d[3] + d[1], g[3] + g[1]) - Math.max(d[1], g[1]);
  if (h <= 0) return 0;
  const i = w * h, da = d[2] * d[3];
  return i / (crowd ? da : da + g[2] * g[3] - i);
}

/**
 * COCOeval.computeIoU for one image and category.
 * @param dt detections sorted by score and cut at maxDets[-1] ({@link sortDetections})
 * @param gt ground truths in file order
 * @returns Float64Array [D, G] (row d, column g), empty when D or G is 0
 */
export function computeIou(dt: readonly EvalAnn[], gt: readonly EvalAnn[], iouType: IouType): Float64Array {
  if (dt.length === 0 || gt.length === 0) return new Float64Array(0);
  if (iouType === 'segm') return rleIou(dt.map((d) => d.rle!), gt.map((g) => g.rle!), gt.map((g) => g.iscrowd));
  const G = gt.length;
  const out = new Float64Array(dt.length * G);
  for (let d = 0; d < dt.length; d++) {
    for (let g = 0; g < G; g++) out[d * G + g] = boxIou(dt[d].bbox!, gt[g].bbox!, gt[g].iscrowd);
  }
  return out;
}

/**
 * COCOeval.evaluateImg for one (image, category, area range).
 * @param dt detections sorted by score, cut at maxDet (the same order `ious` rows have)
 * @param gt ground truths in file order (the order of `ious` columns)
 * @param ious [D, G] from {@link computeIou}
 * @param areaRng [lo, hi], both inclusive
 */
export function evaluateImg(
  dt: readonly EvalAnn[], gt: readonly EvalAnn[], ious: Float64Array, iouThrs: readonly number[], areaRng: readonly [number, number],
): ImageEval | null {
  if (dt.length === 0 && gt.length === 0) return null;
  const [lo, hi] = areaRng;
  const outside = (a: EvalAnn) => a.area < lo || a.area > hi;
  // ground truths not ignored first, keeping file order within each group (stable argsort)
  const ignoreOf = gt.map((g) => (g.iscrowd || outside(g) ? 1 : 0));
  const gtind = argsortDescending(ignoreOf.map((v) => -v));
  const G = gt.length, D = dt.length, T = iouThrs.length;
  const gtIgnore = Uint8Array.from(gtind, (i) => ignoreOf[i]);
  const crowd = gtind.map((i) => gt[i].iscrowd);
  const dtMatches = new Float64Array(T * D);
  const dtIgnore = new Uint8Array(T * D);
  if (ious.length > 0) {
    const gtMatched = new Uint8Array(G);
    for (let t = 0; t < T; t++) {
      gtMatched.fill(0);
      for (let d = 0; d < D; d++) {
        const m = bestMatch(ious, d * G, gtind, gtMatched, gtIgnore, crowd, Math.min(iouThrs[t], 1 - 1e-10));
        if (m === -1) continue;
        dtIgnore[t * D + d] = gtIgnore[m];
        dtMatches[t * D + d] = gt[gtind[m]].id;
        gtMatched[m] = 1;
      }
    }
  }
  // unmatched detections outside the area range are ignored
  for (let d = 0; d < D; d++) {
    if (!outside(dt[d])) continue;
    for (let t = 0; t < T; t++) if (dtMatches[t * D + d] === 0) dtIgnore[t * D + d] = 1;
  }
  return { dtScores: Float64Array.from(dt, (d) => d.score), dtMatches, dtIgnore, gtIgnore };
}

/**
 * The inner loop of evaluateImg: the best ground truth (index in sorted order) for one detection,
 * or -1. A crowd gt can take several detections; once a regular gt is matched, ignored ones are
 * not considered; an equal IoU replaces the match (`ious < iou` skips only smaller ones).
 */
function bestMatch(
  ious: Float64Array, row: number, gtind: readonly number[], gtMatched: Uint8Array, gtIgnore: Uint8Array,
  crowd: readonly boolean[], threshold: number,
): number {
  let iou = threshold, m = -1;
  for (let g = 0; g < gtind.length; g++) {
    if (gtMatched[g] && !crowd[g]) continue;
    if (m > -1 && gtIgnore[m] === 0 && gtIgnore[g] === 1) break;
    const v = ious[row + gtind[g]];
    if (v < iou) continue;
    iou = v;
    m = g;
  }
  return m;
}
