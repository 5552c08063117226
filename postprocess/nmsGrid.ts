/**
 * The grid path of greedyNms (nmsGreedy.ts): box p is tested only against earlier kept boxes
 * whose grid cells meet p's, each such pair exactly once.
 *
 * - Cells: a uniform grid, cells about half the mean box size. Cell indices are monotone in the
 *   coordinate (subtraction, division and floor are), so two overlapping boxes always share a cell.
 * - Each box is entered in every cell it covers, in one of 4 buckets per cell by whether the cell
 *   is the box's first column (bit 0) and first row (bit 1). A pair is tested in the first cell of
 *   the two boxes' common range: p scans, in a cell of its range past its first column, only
 *   entries starting in that column (and likewise for rows), which finds each pair once.
 * - Buckets hold entries in increasing position. An entry is "decided" once its box is kept or
 *   suppressed; decided kept entries are moved into a prefix of their bucket, suppressed ones
 *   dropped, so heavy suppression does not leave dead entries to rescan.
 * Boxes with x2 <= x1 or y2 <= y1 overlap nothing: kept, never entered.
 *
 * Glossary: p, q = positions in visiting order; (cx, cy) = cell; b = bucket = 4 * cell + kind;
 * entries of b = start[b] .. start[b + 1] - 1.
 */
import { keptAt, type NmsStop, type NmsWorkspace, stopsAt } from './nmsGreedy.js';

/** A uniform grid over the boxes with positive extent. */
interface Grid { minX: number; minY: number; cw: number; ch: number; gx: number; gy: number }

/** The buckets of one gridNms call (allocated per call: optimised code stays independent of them). */
class Buckets {
  /** per bucket: first entry (start[b + 1] ends it), end of the kept prefix, next undecided entry */
  readonly start: Int32Array;
  readonly liveEnd: Int32Array;
  readonly scanFrom: Int32Array;
  /** per entry: its position, and x1, y1, x2, y2, area */
  readonly entryPos: Int32Array;
  readonly entryBox: Float64Array;
  constructor(buckets: number, entries: number) {
    this.start = new Int32Array(buckets + 1);
    this.liveEnd = new Int32Array(buckets);
    this.scanFrom = new Int32Array(buckets);
    this.entryPos = new Int32Array(entries);
    this.entryBox = new Float64Array(5 * entries);
  }
}

/**
 * Runs greedy NMS with the grid; returns the kept count, or -1 when no useful grid exists
 * (nothing with positive extent, a coordinate span that overflows, or boxes covering most cells).
 */
export function gridNms(order: Int32Array, count: number, iouThreshold: number, ws: NmsWorkspace, keep: Int32Array, keepOffset: number, stop?: NmsStop): number {
  const grid = planGrid(count, ws);
  if (grid === null) return -1;
  const buckets = fillGrid(count, ws, grid);
  const { x1, y1, x2, y2, kept: isKept } = ws;
  isKept.fill(0, 0, count);
  let kept = 0;
  for (let p = 0; p < count; p++) {
    if (stopsAt(stop, order, p)) break;
    if (x2[p] > x1[p] && y2[p] > y1[p] && suppressedByKept(ws, buckets, p, grid.gx, iouThreshold)) continue;
    isKept[p] = 1;
    keep[keepOffset + kept++] = order[p];
    keptAt(stop, order, p, kept);
  }
  return kept;
}

/**
 * Chooses cells about half the mean box size, coarsened until there are at most ~4 cells and ~32
 * entries per box (memory stays O(N)); fills ws.cells and returns the grid and its entry count.
 */
function planGrid(count: number, ws: NmsWorkspace): (Grid & { entries: number }) | null {
  const { x1, y1, x2, y2 } = ws;
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity, sumW = 0, sumH = 0, indexed = 0;
  for (let p = 0; p < count; p++) {
    if (!(x2[p] > x1[p] && y2[p] > y1[p])) continue;
    indexed++;
    if (x1[p] < minX) minX = x1[p];
    if (y1[p] < minY) minY = y1[p];
    if (x2[p] > maxX) maxX = x2[p];
    if (y2[p] > maxY) maxY = y2[p];
    sumW += x2[p] - x1[p];
    sumH += y2[p] - y1[p];
  }
  const spanX = maxX - minX, spanY = maxY - minY;
  // Cells half the mean box size: measured fastest on random and clustered boxes (1000-5000).
  let cw = 0.5 * sumW / indexed, ch = 0.5 * sumH / indexed;
  if (indexed === 0 || !Number.isFinite(spanX) || !Number.isFinite(spanY) || !(cw > 0 && ch > 0)) return null;
  const maxEntries = 32 * indexed + 1024;
  for (;;) {
    const gx = Math.floor(spanX / cw) + 1, gy = Math.floor(spanY / ch) + 1;
    let entries = 0;
    if (gx * gy <= 4 * indexed + 16) {
      for (let p = 0; p < count && entries <= maxEntries; p++) {
        if (!(x2[p] > x1[p] && y2[p] > y1[p])) continue;
        const cx0 = Math.min(gx - 1, Math.floor((x1[p] - minX) / cw));
        const cx1 = Math.min(gx - 1, Math.floor((x2[p] - minX) / cw));
        const cy0 = Math.min(gy - 1, Math.floor((y1[p] - minY) / ch));
        const cy1 = Math.min(gy - 1, Math.floor((y2[p] - minY) / ch));
        ws.cells[4 * p] = cx0; ws.cells[4 * p + 1] = cx1; ws.cells[4 * p + 2] = cy0; ws.cells[4 * p + 3] = cy1;
        entries += (cx1 - cx0 + 1) * (cy1 - cy0 + 1);
      }
      // Boxes covering half the grid or more: the grid prunes nothing, the kernel's loop is cheaper.
      if (2 * entries >= indexed * gx * gy) return null;
      if (entries <= maxEntries) return { minX, minY, cw, ch, gx, gy, entries };
    }
    if (gx >= gy) cw *= 2; else ch *= 2;
  }
}

/** Enters every indexed box in each of its cells, buckets in increasing position, none decided. */
function fillGrid(count: number, ws: NmsWorkspace, grid: Grid & { entries: number }): Buckets {
  const { gx, gy, entries } = grid;
  const buckets = 4 * gx * gy;
  const out = new Buckets(buckets, entries);
  const { x1, y1, x2, y2, area, cells } = ws;
  const bucketStart = out.start;
  for (let p = 0; p < count; p++) {
    if (!(x2[p] > x1[p] && y2[p] > y1[p])) continue;
    const cx0 = cells[4 * p], cx1 = cells[4 * p + 1], cy0 = cells[4 * p + 2], cy1 = cells[4 * p + 3];
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) bucketStart[4 * (cy * gx + cx) + (cx === cx0 ? 1 : 0) + (cy === cy0 ? 2 : 0)]++;
    }
  }
  // Running sums make bucketStart[b] the end of bucket b; filling from the back moves it to the start.
  for (let b = 1; b < buckets; b++) bucketStart[b] += bucketStart[b - 1];
  bucketStart[buckets] = entries;
  const { entryPos, entryBox } = out;
  for (let p = count - 1; p >= 0; p--) {
    if (!(x2[p] > x1[p] && y2[p] > y1[p])) continue;
    const cx0 = cells[4 * p], cx1 = cells[4 * p + 1], cy0 = cells[4 * p + 2], cy1 = cells[4 * p + 3];
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const e = --bucketStart[4 * (cy * gx + cx) + (cx === cx0 ? 1 : 0) + (cy === cy0 ? 2 : 0)];
        entryPos[e] = p;
        entryBox[5 * e] = x1[p]; entryBox[5 * e + 1] = y1[p]; entryBox[5 * e + 2] = x2[p];
        entryBox[5 * e + 3] = y2[p]; entryBox[5 * e + 4] = area[p];
      }
    }
  }
  out.liveEnd.set(bucketStart.subarray(0, buckets));
  out.scanFrom.set(bucketStart.subarray(0, buckets));
  return out;
}

/** Whether an earlier kept box meeting p in the grid has IoU > threshold with p. */
function suppressedByKept(ws: NmsWorkspace, buckets: Buckets, p: number, gx: number, iouThreshold: number): boolean {
  const { cells } = ws;
  const cx0 = cells[4 * p], cx1 = cells[4 * p + 1], cy0 = cells[4 * p + 2], cy1 = cells[4 * p + 3];
  for (let cy = cy0; cy <= cy1; cy++) {
    for (let cx = cx0; cx <= cx1; cx++) {
      // Past p's first column (row) only entries starting in this column (row) can be the pair's first common cell.
      const required = (cx > cx0 ? 1 : 0) | (cy > cy0 ? 2 : 0);
      const cell = 4 * (cy * gx + cx);
      for (let kind = required; kind < 4; kind++) {
        if ((kind & required) === required && scanBucket(ws, buckets, cell + kind, p, iouThreshold)) return true;
      }
    }
  }
  return false;
}

/** Tests p against the kept entries of bucket b that come before it, deciding entries on the way. */
function scanBucket(ws: NmsWorkspace, buckets: Buckets, b: number, p: number, iouThreshold: number): boolean {
  const { entryBox, entryPos, liveEnd, scanFrom, start } = buckets;
  const kept = ws.kept;
  // Decide the entries before p: kept ones join the bucket's kept prefix, suppressed ones are dropped.
  let live = liveEnd[b];
  let e = scanFrom[b];
  for (const end = start[b + 1]; e < end; e++) {
    const q = entryPos[e];
    if (q >= p) break;
    if (!kept[q]) continue;
    if (live !== e) {
      const from = 5 * e, to = 5 * live;
      entryPos[live] = q;
      entryBox[to] = entryBox[from]; entryBox[to + 1] = entryBox[from + 1]; entryBox[to + 2] = entryBox[from + 2];
      entryBox[to + 3] = entryBox[from + 3]; entryBox[to + 4] = entryBox[from + 4];
    }
    live++;
  }
  liveEnd[b] = live;
  scanFrom[b] = e;
  // The kernel's test of p against each earlier kept box, in float32 (iarea + areas[j] commutes).
  const px1 = ws.x1[p], py1 = ws.y1[p], px2 = ws.x2[p], py2 = ws.y2[p], parea = ws.area[p];
  const f = Math.fround;
  for (let o = 5 * start[b], stop = 5 * live; o < stop; o += 5) {
    const xx1 = px1 > entryBox[o] ? px1 : entryBox[o];
    const xx2 = px2 < entryBox[o + 2] ? px2 : entryBox[o + 2];
    if (!(xx2 > xx1)) continue;
    const yy1 = py1 > entryBox[o + 1] ? py1 : entryBox[o + 1];
    const yy2 = py2 < entryBox[o + 3] ? py2 : entryBox[o + 3];
    if (!(yy2 > yy1)) continue;
    const inter = f(f(xx2 - xx1) * f(yy2 - yy1));
    if (f(inter / f(f(entryBox[o + 4] + parea) - inter)) > iouThreshold) return true;
  }
  return false;
}
