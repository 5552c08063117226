/**
 * Non-maximum suppression equal to torchvision 0.14 on CPU: `nms` (the C++ kernel
 * csrc/ops/cpu/nms_kernel.cpp) and `batched_nms` (ops/boxes.py) with both of its branches.
 *
 * Glossary: N = number of boxes; boxes are (x1, y1, x2, y2) float32, IoU without the legacy +1.
 *
 * What decides parity (each one changes which indices come out):
 * - Order: the kernel visits boxes by decreasing score with a stable sort (ties by index); the
 *   per-class branch of batched_nms then re-sorts its result with torch's unstable sort, whose
 *   tie order we replay (see nmsSort.ts).
 * - Arithmetic: areas, intersection, union and IoU in float32 (Math.fround after each operation),
 *   IoU compared as a double with `> iouThreshold`.
 * - batched_nms: above 4000 numbers (N > 1000) torchvision loops over classes and re-sorts the
 *   kept scores (unstable again); otherwise it offsets boxes by `idx * (max_coordinate + 1)` in
 *   float32, which rounds coordinates and so can change IoUs: we run NMS on the same offset boxes.
 *
 * Input contract (checked before anything is read, OperatorInputError otherwise): boxes.length ==
 * 4 * scores.length (== 4 * idxs.length), coordinates finite, scores not NaN (±Infinity is allowed
 * and sorts like torch), iouThreshold >= 0 (+Infinity keeps everything). Empty input gives an
 * empty result. Inverted (x2 < x1) and zero-area boxes are allowed: they overlap nothing, so they
 * are kept, as torchvision keeps them.
 */
import { boxCount } from './boxes.js';
import { OperatorInputError } from './errors.js';
import { greedyNms, type NmsStop, NmsWorkspace } from './nmsGreedy.js';
import { stableSortDescending, torchSortDescending } from './nmsSort.js';

/** torchvision switches batched_nms to the per-class loop when boxes.numel() > 4000 on CPU. */
const VANILLA_NUMEL_THRESHOLD = 4000;

/**
 * Non-maximum suppression, as `torchvision.ops.nms` on CPU: visit boxes by decreasing score, keep a
 * box unless an already kept box overlaps it with IoU > iouThreshold.
 * @param boxes Float32Array [N, 4] x1,y1,x2,y2
 * @param scores Float32Array [N]
 * @param iouThreshold boxes with IoU > iouThreshold with a higher-scoring kept box are discarded
 * @returns Int32Array [K] kept indices, by decreasing score (ties in torch's order)
 */
export function nms(boxes: Float32Array, scores: Float32Array, iouThreshold: number): Int32Array {
  const n = checkInputs('nms', boxes, scores, iouThreshold);
  const order = identity(n);
  stableSortDescending(scores, order, n);
  const keep = new Int32Array(n);
  const count = greedyNms(order, n, boxes, iouThreshold, new NmsWorkspace(n), keep, 0);
  return keep.slice(0, count);
}

/**
 * NMS done independently per category, as `torchvision.ops.batched_nms` on CPU, including its
 * switch: per-class loop for N > 1000, coordinate offsets otherwise.
 * @param boxes Float32Array [N, 4] x1,y1,x2,y2
 * @param scores Float32Array [N]
 * @param idxs Int32Array [N] category of each box (any integers). Boxes of different categories do not
 *   suppress each other, except as in torchvision's <= 1000-box branch: there a coordinate below -1
 *   can reach into another category's offset range, and large offsets round coordinates.
 * @param iouThreshold boxes with IoU > iouThreshold with a higher-scoring kept box of the same category are discarded
 * @param limit only the first `limit` indices are wanted (torchvision's `keep[:limit]`): the same
 *   indices, with less work where the scores allow (see limitedBatchedNms)
 * @returns Int32Array [K] kept indices, by decreasing score (ties in torch's order)
 */
export function batchedNms(boxes: Float32Array, scores: Float32Array, idxs: Int32Array, iouThreshold: number, limit = Infinity): Int32Array {
  if (!(limit >= 0)) throw new OperatorInputError('batchedNms', `limit must be a number >= 0, got ${limit}`);
  const plan = planBatchedNms(boxes, scores, idxs, iouThreshold);
  const ws = new NmsWorkspace(scores.length);
  if (limit < scores.length) {
    return limitedBatchedNms(plan, scores, iouThreshold, Math.floor(limit), ws).keep;
  }
  return plan.finish(plan.problems.map((p) => {
    const keep = new Int32Array(p.order.length);
    return keep.slice(0, greedyNms(p.order, p.order.length, p.boxes, iouThreshold, ws, keep, 0));
  }));
}

/**
 * The first `limit` indices of batchedNms's result with less work (the RPN keeps its best 300 or
 * 1000 of some 3000-5000 boxes).
 * - One problem whose kept boxes are the result in order (the coordinate trick): its pass stops
 *   once `limit` are kept.
 * - One problem per category: the categories run one after another, each stopping below the
 *   `limit`-th best score kept so far (no box below it can be among the best `limit`), and the
 *   per-category loop's sort then orders what was kept. That sort is unstable and its order of
 *   equal scores depends on every element sorted, so the shortcut stands only when the best
 *   `limit` kept scores are distinct and above the next one: then any sort puts the same boxes
 *   in the same order first. Otherwise (ties, as saturated scores of 1.0 or an int8 model's
 *   coarse ones give) the categories cut short are run whole, as without a limit.
 */
export function limitedBatchedNms(
  plan: BatchedNmsPlan, scores: Float32Array, iouThreshold: number, limit: number, ws: NmsWorkspace,
): { keep: Int32Array; /** boxes visited in all */ visited: number; /** whether cut-short categories had to be run whole */ redone: boolean } {
  if (limit === 0) return { keep: new Int32Array(0), visited: 0, redone: false };
  if (plan.keptInOrder) {
    const [p] = plan.problems;
    const keep = new Int32Array(p.order.length);
    const stop: NmsStop = { scores, below: -Infinity, limit, visited: 0 };
    const kept = greedyNms(p.order, p.order.length, p.boxes, iouThreshold, ws, keep, 0, stop);
    return { keep: plan.finish([keep.subarray(0, kept)]).slice(0, limit), visited: stop.visited, redone: false };
  }
  let below = -Infinity;
  // Set once a category's best kept scores tie: the shortcut would be given up at the end, so the
  // categories after it run whole at once instead of twice.
  let tied = false;
  const truncated: boolean[] = [];
  const keptScores: number[] = [];
  let visited = 0;
  const kept = plan.problems.map((p, i) => {
    const keep = new Int32Array(p.order.length);
    // A category is never cut short by its own count: a first category run whole makes the
    // fallback below redo only the others, which stopped early and cost little.
    const stop: NmsStop = { scores, below: tied ? -Infinity : below, limit: Infinity, visited: 0 };
    const k = greedyNms(p.order, p.order.length, p.boxes, iouThreshold, ws, keep, 0, stop);
    truncated[i] = stop.visited < p.order.length;
    visited += stop.visited;
    for (let j = 1; j < Math.min(k, limit) && !tied; j++) tied = scores[keep[j]] === scores[keep[j - 1]];
    for (let j = 0; j < k; j++) keptScores.push(scores[keep[j]]);
    if (keptScores.length >= limit) {
      keptScores.sort((a, b) => b - a);
      keptScores.length = limit;
      below = keptScores[limit - 1];
    }
    return keep.subarray(0, k);
  });
  const all = plan.finish(kept);
  if (!truncated.includes(true)) return { keep: all.slice(0, limit), visited, redone: false };
  const top = Math.min(limit, all.length);
  let distinct = !(all.length > top && !(scores[all[top]] < scores[all[top - 1]]));
  for (let j = 1; j < top && distinct; j++) distinct = scores[all[j]] < scores[all[j - 1]];
  if (distinct) return { keep: all.slice(0, top), visited, redone: false };
  // Tied scores: the categories cut short are run whole, and the sort sees what torchvision's does.
  const whole = plan.problems.map((p, i) => {
    if (!truncated[i]) return kept[i];
    const keep = new Int32Array(p.order.length);
    return keep.subarray(0, greedyNms(p.order, p.order.length, p.boxes, iouThreshold, ws, keep, 0));
  });
  return { keep: plan.finish(whole).slice(0, limit), visited, redone: true };
}

/** One plain NMS inside a batched NMS. */
export interface NmsProblem {
  /** Indices into `boxes` in visiting order (by decreasing score, ties by index). */
  order: Int32Array;
  /** [N, 4] the boxes this NMS compares: the input's, or the coordinate trick's offset copy. */
  boxes: Float32Array;
}

/** A batched NMS split into plain NMS problems (solved anywhere: the CPU, a GPU's IoU bitmask). */
export interface BatchedNmsPlan {
  problems: NmsProblem[];
  /** True when the result is the one problem's kept indices as they are (the coordinate trick). */
  keptInOrder: boolean;
  /**
   * The batched result from each problem's kept indices (into `boxes`, in the problem's visiting
   * order, as `greedy` NMS over `order` gives them).
   */
  finish(kept: readonly Int32Array[]): Int32Array;
}

/**
 * {@link batchedNms} split into its plain NMS problems and the step that joins their results, so
 * that another NMS (gpu/nms.ts's bitmask) can solve the problems with the same parity: torchvision's
 * branch choice, the coordinate trick's offset boxes, the per-class loop's final unstable sort.
 * @throws OperatorInputError as {@link batchedNms}
 */
export function planBatchedNms(boxes: Float32Array, scores: Float32Array, idxs: Int32Array, iouThreshold: number): BatchedNmsPlan {
  const n = checkInputs('batchedNms', boxes, scores, iouThreshold);
  if (!(idxs instanceof Int32Array) || idxs.length !== n) {
    throw new OperatorInputError('batchedNms', `idxs must be an Int32Array with one category per box (${n}), got ${idxs instanceof Int32Array ? idxs.length : typeof idxs}`);
  }
  if (n === 0) return { problems: [], keptInOrder: false, finish: () => new Int32Array(0) };
  return 4 * n > VANILLA_NUMEL_THRESHOLD ? planVanilla(boxes, scores, idxs) : planCoordinateTrick(boxes, scores, idxs);
}

function checkInputs(operator: string, boxes: Float32Array, scores: Float32Array, iouThreshold: number): number {
  const n = boxCount(operator, 'boxes', boxes);
  if (!(scores instanceof Float32Array) || scores.length !== n) {
    throw new OperatorInputError(operator, `scores must be a Float32Array with one score per box (${n}), got ${scores instanceof Float32Array ? scores.length : typeof scores}`);
  }
  if (!(iouThreshold >= 0)) {
    throw new OperatorInputError(operator, `iouThreshold must be a number >= 0, got ${iouThreshold}`);
  }
  for (let i = 0; i < boxes.length; i++) {
    if (!Number.isFinite(boxes[i])) {
      throw new OperatorInputError(operator, `boxes[${i >> 2}] has a non-finite coordinate (${boxes[i]}) at position ${i & 3}`);
    }
  }
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) throw new OperatorInputError(operator, `scores[${i}] is NaN`);
  }
  return n;
}

function identity(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}


/**
 * `_batched_nms_coordinate_trick`: one NMS over boxes shifted by idx * (max_coordinate + 1),
 * all in float32 like torch (the shift rounds coordinates, which is part of the parity).
 */
function planCoordinateTrick(boxes: Float32Array, scores: Float32Array, idxs: Int32Array): BatchedNmsPlan {
  const n = scores.length;
  let maxCoordinate = -Infinity;
  for (let i = 0; i < boxes.length; i++) if (boxes[i] > maxCoordinate) maxCoordinate = boxes[i];
  const step = Math.fround(maxCoordinate + 1);
  const shifted = new Float32Array(boxes.length);
  for (let i = 0; i < n; i++) {
    const offset = Math.fround(Math.fround(idxs[i]) * step);
    for (let c = 4 * i; c < 4 * i + 4; c++) shifted[c] = boxes[c] + offset;
  }
  const order = identity(n);
  stableSortDescending(scores, order, n);
  return { problems: [{ order, boxes: shifted }], keptInOrder: true, finish: (kept) => kept[0] };
}

/**
 * `_batched_nms_vanilla`: for each category (torch.unique order; the order does not change the
 * result) NMS on its boxes taken in increasing index order, then the kept indices, in increasing
 * index order, sorted by score with torch's unstable sort.
 */
function planVanilla(boxes: Float32Array, scores: Float32Array, idxs: Int32Array): BatchedNmsPlan {
  const n = scores.length;
  const { members, groupStarts } = groupByCategory(idxs);
  const sortScratch = new Float64Array(n);
  const problems: NmsProblem[] = [];
  for (let g = 0; g + 1 < groupStarts.length; g++) {
    const order = members.slice(groupStarts[g], groupStarts[g + 1]);
    stableSortDescending(scores, order, order.length, sortScratch);
    problems.push({ order, boxes });
  }
  const finish = (kept: readonly Int32Array[]) => {
    const keepMask = new Uint8Array(n);
    for (const k of kept) for (let j = 0; j < k.length; j++) keepMask[k[j]] = 1;
    const keys = new Float32Array(n);
    const order = new Int32Array(n);
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (keepMask[i]) {
        keys[count] = scores[i];
        order[count++] = i;
      }
    }
    torchSortDescending(keys, order, count);
    return order.slice(0, count);
  };
  return { problems, keptInOrder: false, finish };
}

/**
 * Box indices grouped by category, each group in increasing index order (`torch.where(idxs == c)`).
 * @returns members [N] grouped indices; groupStarts [G + 1] offsets of each group in members
 */
function groupByCategory(idxs: Int32Array): { members: Int32Array; groupStarts: Int32Array } {
  const n = idxs.length;
  let lo = idxs[0], hi = idxs[0];
  for (let i = 1; i < n; i++) {
    if (idxs[i] < lo) lo = idxs[i];
    if (idxs[i] > hi) hi = idxs[i];
  }
  const range = hi - lo + 1;
  if (range <= 4 * n + 1024) {
    const members = new Int32Array(n);
    // Counting sort over the category range: stable, so each group stays in index order.
    const counts = new Int32Array(range + 1);
    for (let i = 0; i < n; i++) counts[idxs[i] - lo + 1]++;
    let groups = 0;
    for (let c = 1; c <= range; c++) if (counts[c] > 0) groups++;
    const groupStarts = new Int32Array(groups + 1);
    for (let c = 0, g = 0; c < range; c++) {
      const size = counts[c + 1];
      if (size > 0) {
        groupStarts[g + 1] = groupStarts[g] + size;
        g++;
      }
      counts[c + 1] += counts[c];
    }
    for (let i = 0; i < n; i++) members[counts[idxs[i] - lo]++] = i;
    return { members, groupStarts };
  }
  // Sparse categories: a comparison sort; TypedArray sort is stable, so groups keep index order.
  const sorted = identity(n).sort((a, b) => idxs[a] - idxs[b]);
  const starts: number[] = [0];
  for (let p = 1; p < n; p++) if (idxs[sorted[p]] !== idxs[sorted[p - 1]]) starts.push(p);
  starts.push(n);
  return { members: sorted, groupStarts: Int32Array.from(starts) };
}
