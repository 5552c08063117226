/**
 * The grid path of greedyNms (nmsGreedy.ts): box p is tested only against earlier kept boxes
 * whose grid cells meet p's, each such pair exactly once.
 *
 * - Cells: a uniform grid about the mean box size. Cell indices are monotone in the coordinate
 *   (subtraction, division and floor are), so two overlapping boxes always share a cell.
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
 * entries of b = bucketStart[b] .. bucketStart[b + 1] - 1.
 */
import { type NmsWorkspace, pairSuppresses } from './nmsGreedy.js';

/** A uniform grid over the boxes with positive extent. */
interface Grid { minX: number; minY: number; cw: number; ch: number; gx: number; gy: number }

/**
 * Runs greedy NMS with the grid; returns the kept count, or -1 when no sensible grid exists
 * (nothing with positive extent, or a coordinate span that overflows).
 */
export function gridNms(order: Int32Array, count: number, iouThreshold: number, ws: NmsWorkspace, keep: Int32Array, keepOffset: number): number {
  const grid = planGrid(count, ws);
  if (grid === null) return -1;
  fillGrid(count, ws, grid);
  const { x1, y1, x2, y2, kept: isKept } = ws;
  isKept.fill(0, 0, count);
  let kept = 0;
  for (let p = 0; p < count; p++) {
    if (x2[p] > x1[p] && y2[p] > y1[p] && suppressedByKept(ws, p, grid.gx, iouThreshold)) continue;
    isKept[p] = 1;
    keep[keepOffset + kept++] = order[p];
  }
  return kept;
}

/**
 * Chooses cells about the mean box size, coarsened until there are at most ~4 cells and ~32
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
  let cw = sumW / indexed, ch = sumH / indexed;
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
      if (entries <= maxEntries) return { minX, minY, cw, ch, gx, gy, entries };
    }
    if (gx >= gy) cw *= 2; else ch *= 2;
  }
}

/** Enters every indexed box in each of its cells, buckets in increasing position, none decided. */
function fillGrid(count: number, ws: NmsWorkspace, grid: Grid & { entries: number }): void {
  const { gx, gy, entries } = grid;
  const buckets = 4 * gx * gy;
  ws.reserveGrid(buckets, entries);
  const { x1, y1, x2, y2, area, cells, bucketStart } = ws;
  bucketStart.fill(0, 0, buckets + 1);
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
  const { entryPos, entryBox } = ws;
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
  ws.liveEnd.set(bucketStart.subarray(0, buckets));
  ws.scanFrom.set(bucketStart.subarray(0, buckets));
}

/** Whether an earlier kept box meeting p in the grid has IoU > threshold with p. */
function suppressedByKept(ws: NmsWorkspace, p: number, gx: number, iouThreshold: number): boolean {
  const { cells } = ws;
  const cx0 = cells[4 * p], cx1 = cells[4 * p + 1], cy0 = cells[4 * p + 2], cy1 = cells[4 * p + 3];
  for (let cy = cy0; cy <= cy1; cy++) {
    for (let cx = cx0; cx <= cx1; cx++) {
      // Past p's first column (row) only entries starting in this column (row) can be the pair's first common cell.
      const required = (cx > cx0 ? 1 : 0) | (cy > cy0 ? 2 : 0);
      const cell = 4 * (cy * gx + cx);
      for (let kind = required; kind < 4; kind++) {
        if ((kind & required) === required && scanBucket(ws, cell + kind, p, iouThreshold)) return true;
      }
    }
  }
  return false;
}

/** Tests p against the kept entries of bucket b that come before it, deciding entries on the way. */
function scanBucket(ws: NmsWorkspace, b: number, p: number, iouThreshold: number): boolean {
  const { entryBox, entryPos, kept, liveEnd, scanFrom } = ws;
  const px1 = ws.x1[p], py1 = ws.y1[p], px2 = ws.x2[p], py2 = ws.y2[p], parea = ws.area[p];
  let live = liveEnd[b];
  for (let e = ws.bucketStart[b]; e < live; e++) {
    if (pairSuppresses(entryBox, 5 * e, px1, py1, px2, py2, parea, iouThreshold)) return true;
  }
  const end = ws.bucketStart[b + 1];
  let e = scanFrom[b];
  let suppressed = false;
  for (; e < end; e++) {
    const q = entryPos[e];
    if (q >= p) break;
    if (!kept[q]) continue; // suppressed: dropped from the bucket
    if (live !== e) {
      entryPos[live] = q;
      entryBox.copyWithin(5 * live, 5 * e, 5 * e + 5);
    }
    live++;
    if (pairSuppresses(entryBox, 5 * (live - 1), px1, py1, px2, py2, parea, iouThreshold)) {
      suppressed = true;
      e++;
      break;
    }
  }
  liveEnd[b] = live;
  scanFrom[b] = e;
  return suppressed;
}
