/**
 * The greedy loop of torchvision's CPU nms kernel over boxes already in visiting order, with the
 * same result and less work.
 *
 * The kernel keeps box j unless an earlier kept box i has IoU(i, j) > threshold. IoU is symmetric
 * in float32 too (max/min, and iarea + areas[j] is a commutative addition), and a pair whose
 * intersection is empty has IoU 0, -0 or NaN, never > a threshold >= 0. So only overlapping pairs
 * matter, and any way of finding them gives torchvision's kept list:
 * - small inputs: the kernel's loop, with the not-yet-suppressed boxes kept compacted;
 * - larger inputs: a uniform grid that finds, for each box, the earlier kept boxes sharing a cell
 *   with it (nmsGrid.ts).
 *
 * Glossary: p, q = positions in visiting order (0 = highest score).
 */
import { gridNms } from './nmsGrid.js';

/** Below this many boxes the quadratic loop beats building a grid. */
const GRID_MIN_BOXES = 64;

/** Scratch memory for one nms call, reused across the per-class calls of batchedNms. */
export class NmsWorkspace {
  /** coordinates and float32 area per position */
  readonly x1: Float64Array;
  readonly y1: Float64Array;
  readonly x2: Float64Array;
  readonly y2: Float64Array;
  readonly area: Float64Array;
  /** quadratic path: compacted alive positions */
  readonly alive: Int32Array;
  /** grid path: cx0, cx1, cy0, cy1 per position */
  readonly cells: Int32Array;
  /** grid path: 1 once a position is kept */
  readonly kept: Uint8Array;

  /** @param n the largest number of boxes one call will see */
  constructor(n: number) {
    this.x1 = new Float64Array(n);
    this.y1 = new Float64Array(n);
    this.x2 = new Float64Array(n);
    this.y2 = new Float64Array(n);
    this.area = new Float64Array(n);
    this.alive = new Int32Array(n);
    this.cells = new Int32Array(4 * n);
    this.kept = new Uint8Array(n);
  }
}

/**
 * Where a greedy pass may stop early (batchedNms with a limit): before visiting a box whose score
 * is below `below`, and, once `limit` boxes are kept, below the last kept one's score (boxes of
 * that score are still visited). The greedy loop is causal (a box's fate depends only on the boxes
 * before it), so what was kept up to the stop is what a whole pass keeps there.
 */
export interface NmsStop {
  scores: Float32Array;
  below: number;
  limit: number;
  /** Set by the pass: how many positions it visited (count when it did not stop). */
  visited: number;
}

/**
 * Runs the greedy suppression over `order[0, count)`.
 * @param order [count] box indices in visiting order (decreasing score)
 * @param boxes Float32Array [*, 4] x1,y1,x2,y2 the IoU is computed on
 * @param iouThreshold >= 0
 * @param keep receives the kept box indices, in visiting order, from keepOffset on
 * @param stop where the pass may stop early (see NmsStop); none: it visits every box
 * @returns number of kept boxes
 */
export function greedyNms(
  order: Int32Array, count: number, boxes: Float32Array, iouThreshold: number, ws: NmsWorkspace, keep: Int32Array, keepOffset: number,
  stop?: NmsStop,
): number {
  const { x1, y1, x2, y2, area } = ws;
  const f = Math.fround;
  for (let p = 0; p < count; p++) {
    const b = 4 * order[p];
    x1[p] = boxes[b]; y1[p] = boxes[b + 1]; x2[p] = boxes[b + 2]; y2[p] = boxes[b + 3];
    // The kernel's areas_t = (x2 - x1) * (y2 - y1) in float32.
    area[p] = f(f(x2[p] - x1[p]) * f(y2[p] - y1[p]));
  }
  if (stop) stop.visited = count;
  const kept = count >= GRID_MIN_BOXES ? gridNms(order, count, iouThreshold, ws, keep, keepOffset, stop) : -1;
  return kept >= 0 ? kept : quadraticNms(order, count, iouThreshold, ws, keep, keepOffset, stop);
}

/** Whether the pass stops before visiting position p (setting stop.visited). */
export function stopsAt(stop: NmsStop | undefined, order: Int32Array, p: number): boolean {
  if (!stop || !(stop.scores[order[p]] < stop.below)) return false;
  stop.visited = p;
  return true;
}

/** Raises the stop's bound once the limit is reached with the box at position p kept. */
export function keptAt(stop: NmsStop | undefined, order: Int32Array, p: number, kept: number): void {
  if (stop && kept >= stop.limit && stop.scores[order[p]] > stop.below) stop.below = stop.scores[order[p]];
}

/** The kernel's loop, skipping suppressed boxes by keeping the alive ones compacted. */
function quadraticNms(
  order: Int32Array, count: number, iouThreshold: number, ws: NmsWorkspace, keep: Int32Array, keepOffset: number, stop?: NmsStop,
): number {
  const { x1, y1, x2, y2, area, alive } = ws;
  const f = Math.fround;
  for (let p = 0; p < count; p++) alive[p] = p;
  let kept = 0;
  let aliveCount = count;
  for (let head = 0; head < aliveCount; head++) {
    const i = alive[head];
    if (stopsAt(stop, order, i)) break;
    keep[keepOffset + kept++] = order[i];
    keptAt(stop, order, i, kept);
    const ix1 = x1[i], iy1 = y1[i], ix2 = x2[i], iy2 = y2[i], iarea = area[i];
    let write = head + 1;
    for (let r = head + 1; r < aliveCount; r++) {
      const j = alive[r];
      const xx1 = ix1 > x1[j] ? ix1 : x1[j];
      const xx2 = ix2 < x2[j] ? ix2 : x2[j];
      if (xx2 > xx1) {
        const yy1 = iy1 > y1[j] ? iy1 : y1[j];
        const yy2 = iy2 < y2[j] ? iy2 : y2[j];
        if (yy2 > yy1) {
          const inter = f(f(xx2 - xx1) * f(yy2 - yy1));
          if (f(inter / f(f(iarea + area[j]) - inter)) > iouThreshold) continue;
        }
      }
      alive[write++] = j;
    }
    aliveCount = write;
  }
  return kept;
}
