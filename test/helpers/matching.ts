/**
 * Matching our detections against torchvision's for the end-to-end parity bar: a pair matches when
 * the labels agree, box IoU >= minBoxIou and |score difference| <= maxScoreDiff; matched masks need
 * IoU >= minMaskIou, or, with `maxMaskPixelDiff`, at most that many pixels set in one and not the
 * other (a mask of a few pixels, where one flipped pixel moves the IoU by a quarter).
 */
export interface FlatDetections {
  boxes: ArrayLike<number>; // [D, 4]
  scores: ArrayLike<number>;
  labels: ArrayLike<number>;
  /** [D, H * W] binary masks, when the model has them. */
  masks?: Uint8Array[];
}

export interface MatchReport {
  /** Fraction of `expected` detections with a match in `actual`. */
  recall: number;
  /** Fraction of `actual` detections with a match in `expected`. */
  precision: number;
  maskMatched: number;
  maskPairs: number;
  worstBoxIou: number;
  worstScoreDiff: number;
  worstMaskIou: number;
}

function boxIou(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  const ix = Math.max(0, Math.min(a[4 * i + 2], b[4 * j + 2]) - Math.max(a[4 * i], b[4 * j]));
  const iy = Math.max(0, Math.min(a[4 * i + 3], b[4 * j + 3]) - Math.max(a[4 * i + 1], b[4 * j + 1]));
  const inter = ix * iy;
  const area = (x: ArrayLike<number>, k: number) => (x[4 * k + 2] - x[4 * k]) * (x[4 * k + 3] - x[4 * k + 1]);
  const union = area(a, i) + area(b, j) - inter;
  return union > 0 ? inter / union : (inter === 0 && a[4 * i] === b[4 * j] && a[4 * i + 1] === b[4 * j + 1] ? 1 : 0);
}

export interface MatchBars {
  minBoxIou: number;
  maxScoreDiff: number;
  minMaskIou: number;
  maxMaskPixelDiff?: number;
}

/** Pixels set in both masks, and in either. */
function maskOverlap(a: Uint8Array, b: Uint8Array): { inter: number; union: number } {
  let inter = 0, union = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0, y = b[i] !== 0;
    if (x && y) inter++;
    if (x || y) union++;
  }
  return { inter, union };
}

export function maskIou(a: Uint8Array, b: Uint8Array): number {
  const { inter, union } = maskOverlap(a, b);
  return union === 0 ? 1 : inter / union;
}

/** For each detection of `from`, the index of its match in `to` (or -1), one-to-one. */
function oneWay(from: FlatDetections, to: FlatDetections, minBoxIou: number, maxScoreDiff: number): Int32Array {
  const used = new Uint8Array(to.scores.length);
  const match = new Int32Array(from.scores.length).fill(-1);
  for (let i = 0; i < from.scores.length; i++) {
    let best = -1, bestIou = minBoxIou;
    for (let j = 0; j < to.scores.length; j++) {
      if (used[j] || to.labels[j] !== from.labels[i] || Math.abs(to.scores[j] - from.scores[i]) > maxScoreDiff) continue;
      const iou = boxIou(from.boxes, i, to.boxes, j);
      if (iou >= bestIou) { best = j; bestIou = iou; }
    }
    if (best >= 0) { used[best] = 1; match[i] = best; }
  }
  return match;
}

export function matchDetections(actual: FlatDetections, expected: FlatDetections, bars: MatchBars = { minBoxIou: 0.99, maxScoreDiff: 1e-3, minMaskIou: 0.98 }): MatchReport {
  const forward = oneWay(expected, actual, bars.minBoxIou, bars.maxScoreDiff);
  const backward = oneWay(actual, expected, bars.minBoxIou, bars.maxScoreDiff);
  let worstBoxIou = 1, worstScoreDiff = 0, worstMaskIou = 1, maskMatched = 0, maskPairs = 0;
  forward.forEach((j, i) => {
    if (j < 0) return;
    worstBoxIou = Math.min(worstBoxIou, boxIou(expected.boxes, i, actual.boxes, j));
    worstScoreDiff = Math.max(worstScoreDiff, Math.abs(expected.scores[i] - actual.scores[j]));
    if (expected.masks && actual.masks) {
      const { inter, union } = maskOverlap(expected.masks[i], actual.masks[j]);
      const iou = union === 0 ? 1 : inter / union;
      worstMaskIou = Math.min(worstMaskIou, iou);
      maskPairs++;
      // union - inter: the pixels set in one mask and not in the other
      if (iou >= bars.minMaskIou || union - inter <= (bars.maxMaskPixelDiff ?? -1)) maskMatched++;
    }
  });
  const rate = (m: Int32Array) => (m.length === 0 ? 1 : m.filter((j) => j >= 0).length / m.length);
  return { recall: rate(forward), precision: rate(backward), maskMatched, maskPairs, worstBoxIou, worstScoreDiff, worstMaskIou };
}
