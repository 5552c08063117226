/**
 * COCOeval.accumulate: per category, area range and maxDets, the detections of all images pooled
 * and sorted by score, cumulative true / false positives, the precision envelope and its value at
 * each recall threshold.
 *
 * Layouts: precision and scores [T, R, K, A, M], recall [T, K, A, M] (row-major, -1 where a setting
 * has no ground truth that is not ignored, or no image with anything in it).
 */
import { argsortDescending, type ImageEval } from './evaluateImg.js';

/** numpy's np.spacing(1): the epsilon pycocotools adds to tp + fp. */
const EPS = 2.220446049250313e-16;

export interface Accumulated {
  precision: Float64Array;
  recall: Float64Array;
  scores: Float64Array;
  counts: [number, number, number, number, number];
}

/**
 * @param evalImgs [K, A, I] results of evaluateImg (null where an image has neither gt nor dt)
 * @param dims K categories, A area ranges, I images
 */
export function accumulate(
  evalImgs: ReadonlyArray<ImageEval | null>, dims: { K: number; A: number; I: number },
  iouThrs: readonly number[], recThrs: readonly number[], maxDets: readonly number[],
): Accumulated {
  const { K, A, I } = dims;
  const T = iouThrs.length, R = recThrs.length, M = maxDets.length;
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const scores = new Float64Array(T * R * K * A * M).fill(-1);
  for (let k = 0; k < K; k++) {
    for (let a = 0; a < A; a++) {
      const E = evalImgs.slice((k * A + a) * I, (k * A + a + 1) * I).filter((e): e is ImageEval => e !== null);
      if (E.length === 0) continue;
      for (let m = 0; m < M; m++) {
        const pooled = pool(E, maxDets[m], T);
        if (pooled.npig === 0) continue;
        for (let t = 0; t < T; t++) {
          const at = (r: number) => (((t * R + r) * K + k) * A + a) * M + m;
          const res = precisionAtRecalls(pooled, t, recThrs);
          recall[((t * K + k) * A + a) * M + m] = res.recall;
          for (let r = 0; r < R; r++) { precision[at(r)] = res.q[r]; scores[at(r)] = res.ss[r]; }
        }
      }
    }
  }
  return { precision, recall, scores, counts: [T, R, K, A, M] };
}

/** Detections of all images (each cut at maxDet), sorted by score: [T, N] tp / fp flags. */
interface Pooled {
  N: number;
  npig: number;
  scoresSorted: Float64Array;
  tps: Uint8Array;
  fps: Uint8Array;
}

function pool(E: readonly ImageEval[], maxDet: number, T: number): Pooled {
  const parts = E.map((e) => ({ e, D: e.dtScores.length, n: Math.min(maxDet, e.dtScores.length) }));
  const N = parts.reduce((s, p) => s + p.n, 0);
  const dtScores = new Float64Array(N);
  const src: Array<[ImageEval, number, number]> = [];
  for (const { e, D, n } of parts) {
    for (let j = 0; j < n; j++) { dtScores[src.length] = e.dtScores[j]; src.push([e, D, j]); }
  }
  const inds = argsortDescending(dtScores);
  const tps = new Uint8Array(T * N), fps = new Uint8Array(T * N);
  for (let i = 0; i < N; i++) {
    const [e, D, j] = src[inds[i]];
    for (let t = 0; t < T; t++) {
      if (e.dtIgnore[t * D + j]) continue;
      if (e.dtMatches[t * D + j] !== 0) tps[t * N + i] = 1;
      else fps[t * N + i] = 1;
    }
  }
  let npig = 0;
  for (const e of E) for (const g of e.gtIgnore) if (g === 0) npig++;
  return { N, npig, scoresSorted: Float64Array.from(inds, (i) => dtScores[i]), tps, fps };
}

/** One IoU threshold: final recall, and precision (enveloped) and score at each recall threshold. */
function precisionAtRecalls(p: Pooled, t: number, recThrs: readonly number[]): { recall: number; q: Float64Array; ss: Float64Array } {
  const { N, npig } = p;
  const rc = new Float64Array(N), pr = new Float64Array(N);
  let tp = 0, fp = 0;
  for (let i = 0; i < N; i++) {
    tp += p.tps[t * N + i]; fp += p.fps[t * N + i];
    rc[i] = tp / npig;
    pr[i] = tp / (fp + tp + EPS);
  }
  // precision envelope: make it non-increasing from the right
  for (let i = N - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
  const R = recThrs.length;
  const q = new Float64Array(R), ss = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    const pi = searchSortedLeft(rc, recThrs[r]);
    // pycocotools' try/except: the first threshold past the last recall stops the filling (zeros remain)
    if (pi >= N) break;
    q[r] = pr[pi];
    ss[r] = p.scoresSorted[pi];
  }
  return { recall: N > 0 ? rc[N - 1] : 0, q, ss };
}

/** np.searchsorted(a, v, side='left') on a non-decreasing array: the first i with a[i] >= v. */
function searchSortedLeft(a: Float64Array, v: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
