/**
 * A binary mask's contours as COCO polygons that pycocotools rasterises back to the same pixels.
 *
 * Glossary: W, H: the window's width and height, background beyond its border; corner (cx, cy): a
 * pixel corner, 0 <= cx <= W, 0 <= cy <= H; N: the boundary edges, the unit pixel edges between a
 * foreground and a background pixel, each walked once; doubled coordinates: 2x, 2y, so that edge
 * midpoints are integers.
 *
 * How pycocotools reads a polygon (maskApi.c rleFrPoly, postprocess/rle.ts): pixel column x is
 * sampled on the vertical line x + 0.5 (the 5x upsampled boundary steps between 5x + 2 and 5x + 3),
 * and pixel (x, y) is inside when an odd number of polygon edges cross that line above y + 0.4 (the
 * crossing's y, (v + 0.5) / 5 - 0.5, is rounded up to a row): an even-odd fill per column. The
 * polygons of one annotation are then unioned (frPyObjects + merge), so a hole cannot be a polygon
 * of its own: it would be filled.
 *
 * What this emits, one polygon per part:
 * 1. Contours follow the cracks between pixels with the foreground on the right: outer contours run
 *    clockwise on screen (y down), holes counter-clockwise. Parts are 8-connected (pixels touching
 *    at a corner are one part, as OpenCV's findContours has it), so holes are 4-connected.
 * 2. Vertices sit on the midpoints of the boundary edges, not on pixel corners. The line x + 0.5
 *    then meets the contour exactly at the midpoints of column x's horizontal boundary edges, so
 *    rleFrPoly gives back every pixel, one-pixel lines and single pixels included (a lone pixel is a
 *    diamond), and a staircase of unit steps, the usual digital slope, is one straight segment.
 * 3. Each hole is bridged into its part by a zero-width cut: straight up from the midpoint of the
 *    hole's top-left edge, through the part, to the first boundary above it (the part's outer
 *    contour or another of its holes, bridged already). The polygon walks the cut down and back up,
 *    so its crossings cancel under even-odd (and under non-zero winding); the hole's reversed
 *    orientation makes it a hole under both rules, as annotation tools draw it. A part inside a hole
 *    is a part of its own, with its own polygon.
 * 4. Collinear vertices are dropped; with tolerance > 0 each contour is simplified by
 *    Douglas-Peucker (distance to the chord segment), split at the bridge ends, which are kept. A
 *    contour that would keep fewer than 3 vertices keeps its leftmost, rightmost, topmost and
 *    bottommost ones instead, so no part or hole vanishes (a lone pixel stays its diamond).
 *
 * What is lost: at tolerance 0 nothing; rleFrPoly + rleMerge of the polygons is the mask, pixel for
 * pixel (test/annotate/polygons.test.ts). With tolerance t > 0 a boundary moves by up to t pixels
 * (plus the half pixel between a pixel's edge and the midpoints), so features thinner than about
 * 2t (one-pixel lines, spurs, necks between parts, walls between a hole and the outside) can get
 * thinner, thicker or cut; a simplified hole that crosses its outer contour is XOR-ed with it by the
 * even-odd fill. Polygons of fewer than 3 points, which pycocotools refuses, cannot occur.
 */
import { OperatorInputError } from '../../postprocess/errors.js';

/** A [height, width] row-major 0/1 mask placed at (left, top) of the image. */
export interface MaskWindow {
  data: Uint8Array;
  left: number;
  top: number;
  width: number;
  height: number;
}

// Headings E, S, W, N (clockwise, so right turn = +1, left turn = +3 mod 4).
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];

/**
 * COCO polygons [[x1, y1, x2, y2, ...], ...] of the mask, in image pixel coordinates (pixel (x, y)
 * covers [x, x + 1] x [y, y + 1]), one per 8-connected part with its holes bridged in, parts in
 * raster order of their top-left pixel.
 * @param mask the window's pixels; any non-zero byte is foreground
 * @param tolerance Douglas-Peucker tolerance in pixels, 0 for the exact boundary
 */
export function maskToPolygons(mask: MaskWindow, tolerance: number): number[][] {
  const { data, left, top, width: W, height: H } = mask;
  checkWindow(mask, tolerance);
  if (W === 0 || H === 0) return [];
  const contours = traceContours(data, W, H);
  if (contours.count === 0) return [];
  return assemblePolygons(contours, selectVertices(contours, tolerance), left, top);
}

function checkWindow(mask: MaskWindow, tolerance: number): void {
  const op = 'maskToPolygons';
  for (const key of ['left', 'top', 'width', 'height'] as const) {
    const v = mask[key];
    if (!Number.isSafeInteger(v) || v < 0) throw new OperatorInputError(op, `mask.${key} must be an integer >= 0, got ${v}`);
  }
  if (!(mask.data instanceof Uint8Array) || mask.data.length !== mask.width * mask.height) {
    throw new OperatorInputError(op, `mask.data must be a Uint8Array of width * height = ${mask.width * mask.height} bytes, got ${mask.data?.length}`);
  }
  if (!(tolerance >= 0) || !Number.isFinite(tolerance)) throw new OperatorInputError(op, `tolerance must be a finite number >= 0, got ${tolerance}`);
}

/** Every crack contour of a mask, as midpoints of its boundary edges. */
interface Contours {
  count: number;
  /** [N, 2] the midpoints' window coordinates, doubled (integers). */
  points: Int32Array;
  /** [count + 1] contour c holds points start[c] .. start[c + 1] - 1, in walking order. */
  start: Int32Array;
  /** [count] 1 for a hole. */
  hole: Uint8Array;
  /** [count] for a hole, the point of the contour above it that its bridge goes up to; else -1. */
  bridgeTo: Int32Array;
}

/** A growing buffer of doubled midpoints: [m / 2, 2] used of [points.length / 2, 2]. */
interface PointBuffer { points: Int32Array; m: number }

/**
 * Traces the crack contours of `data` (W x H, background beyond its border), scanning horizontal
 * edges in raster order: the first edge of an outer contour has foreground below it, the first of
 * a hole foreground above. Horizontal edge e = y * W + x lies between pixels (x, y - 1) and (x, y).
 */
function traceContours(data: Uint8Array, W: number, H: number): Contours {
  const visited = new Uint8Array((H + 1) * W);
  const buffer: PointBuffer = { points: new Int32Array(8 * (W + H) + 64), m: 0 };
  const starts: number[] = [0];
  const holes: number[] = [];
  /** for each hole, the horizontal edge its bridge goes up to */
  const bridgeEdges: number[] = [];
  const start = (e: number, y: number) => {
    const above = y > 0 && data[e - W] !== 0, below = y < H && data[e] !== 0;
    if (above === below || visited[e] !== 0) return;
    // an outer contour starts east along the top of pixel (x, y); a hole west under pixel (x, y - 1)
    const x = e - y * W;
    walkContour(data, W, H, visited, buffer, below ? x : x + 1, y, below ? 0 : 2);
    starts.push(buffer.m / 2);
    holes.push(below ? 0 : 1);
    bridgeEdges.push(below ? -1 : bridgeEdge(data, W, x, y));
  };
  // equal bytes are equal pixels: the common case costs one comparison
  for (let e = 0; e < W; e++) if (data[e] !== 0) start(e, 0);
  for (let y = 1; y < H; y++) {
    for (let e = y * W, end = e + W; e < end; e++) if (data[e] !== data[e - W]) start(e, y);
  }
  for (let e = H * W, end = e + W; e < end; e++) if (data[e - W] !== 0) start(e, H);
  return {
    count: holes.length,
    points: buffer.points.subarray(0, buffer.m),
    start: Int32Array.from(starts),
    hole: Uint8Array.from(holes),
    bridgeTo: bridgePoints(buffer.points, buffer.m, W, H, bridgeEdges),
  };
}

/**
 * Walks one contour from corner (cx, cy) heading `d0`, with the foreground on the right, appending
 * each edge's doubled midpoint; at a corner it turns left if the pixel ahead-left is foreground
 * (which joins diagonal neighbours: 8-connected parts), else goes straight if the pixel ahead-right
 * is, else turns right. Marks the horizontal edges it walks in `visited`.
 */
function walkContour(
  data: Uint8Array, W: number, H: number, visited: Uint8Array, buffer: PointBuffer, cx0: number, cy0: number, d0: number,
): void {
  let { points, m } = buffer;
  let cx = cx0, cy = cy0, d = d0;
  do {
    if (d === 0) visited[cy * W + cx] = 1;
    else if (d === 2) visited[cy * W + cx - 1] = 1;
    if (m === points.length) {
      const grown = new Int32Array(2 * points.length);
      grown.set(points);
      points = grown;
    }
    // the midpoint of the edge from (cx, cy) to (cx + dx, cy + dy), doubled
    points[m++] = 2 * cx + DX[d];
    points[m++] = 2 * cy + DY[d];
    cx += DX[d];
    cy += DY[d];
    // the pixels around corner (cx, cy) are TL (cx - 1, cy - 1), TR (cx, cy - 1), BL (cx - 1, cy), BR (cx, cy)
    let aheadLeft: boolean, aheadRight: boolean;
    if (d === 0) { aheadLeft = fg(data, W, H, cx, cy - 1); aheadRight = fg(data, W, H, cx, cy); }
    else if (d === 1) { aheadLeft = fg(data, W, H, cx, cy); aheadRight = fg(data, W, H, cx - 1, cy); }
    else if (d === 2) { aheadLeft = fg(data, W, H, cx - 1, cy); aheadRight = fg(data, W, H, cx - 1, cy - 1); }
    else { aheadLeft = fg(data, W, H, cx - 1, cy - 1); aheadRight = fg(data, W, H, cx, cy - 1); }
    if (aheadLeft) d = (d + 3) & 3;
    else if (!aheadRight) d = (d + 1) & 3;
  } while (cx !== cx0 || cy !== cy0 || d !== d0);
  buffer.points = points;
  buffer.m = m;
}

/** Whether pixel (x, y) of the W x H window is foreground (background beyond its border). */
function fg(data: Uint8Array, W: number, H: number, x: number, y: number): boolean {
  return x >= 0 && y >= 0 && x < W && y < H && data[y * W + x] !== 0;
}

/**
 * The bridge of the hole whose top-left edge is the horizontal edge (x, y): up column x through
 * the foreground over the hole to the first background pixel (or the window's top). The edge under
 * it belongs to the part's outer contour or to one of its holes further up, walked already.
 */
function bridgeEdge(data: Uint8Array, W: number, x: number, y: number): number {
  let e = (y - 1) * W + x; // the foreground pixel over the hole
  while (e >= W && data[e - W] !== 0) e -= W;
  return e;
}

/** Each hole's bridge edge as the index of that edge's midpoint among the points (-1 for outers). */
function bridgePoints(points: Int32Array, m: number, W: number, H: number, bridgeEdges: number[]): Int32Array {
  const out = Int32Array.from(bridgeEdges);
  if (!bridgeEdges.some((e) => e >= 0)) return out;
  /** horizontal edge -> 1 + the hole whose bridge ends there (each edge ends one bridge at most) */
  const holeAt = new Int32Array((H + 1) * W);
  bridgeEdges.forEach((e, c) => { if (e >= 0) holeAt[e] = c + 1; });
  for (let i = 0; i < m; i += 2) {
    const x2 = points[i];
    if ((x2 & 1) === 0) continue; // a vertical edge's midpoint
    const c = holeAt[(points[i + 1] >> 1) * W + (x2 >> 1)];
    if (c !== 0) out[c - 1] = i >> 1;
  }
  return out;
}

/** The vertices kept of each contour, in walking order. */
interface Vertices {
  /** point indices, contour by contour */
  points: Int32Array;
  /** [count + 1] contour c's vertices are points[offset[c]] .. points[offset[c + 1] - 1] */
  offset: Int32Array;
}

/**
 * Which points become vertices: contour corners (where the walking direction changes) and bridge
 * ends, thinned by Douglas-Peucker when tolerance > 0.
 */
function selectVertices(contours: Contours, tolerance: number): Vertices {
  const { points, start, count } = contours;
  const n = points.length / 2;
  const pinned = new Uint8Array(n);
  for (let c = 0; c < count; c++) {
    if (contours.hole[c] === 0) continue;
    pinned[start[c]] = 1;
    pinned[contours.bridgeTo[c]] = 1;
  }
  const kept = new Uint8Array(n);
  const corners = new Int32Array(n); // one contour's corner points, reused
  const stack = new Int32Array(2 * n + 2);
  const tol2 = (2 * tolerance) ** 2; // in doubled coordinates
  const vertices = new Int32Array(n);
  const offset = new Int32Array(count + 1);
  let v = 0;
  for (let c = 0; c < count; c++) {
    const s = start[c], e = start[c + 1];
    let k = 0;
    for (let i = s; i < e; i++) {
      const prev = i === s ? e - 1 : i - 1, next = i === e - 1 ? s : i + 1;
      const straight = points[2 * i] - points[2 * prev] === points[2 * next] - points[2 * i]
        && points[2 * i + 1] - points[2 * prev + 1] === points[2 * next + 1] - points[2 * i + 1];
      if (!straight || pinned[i] !== 0) corners[k++] = i;
    }
    if (tolerance === 0) {
      for (let j = 0; j < k; j++) vertices[v++] = corners[j];
    } else {
      simplifyRing(points, corners, k, pinned, kept, stack, tol2);
      for (let j = 0; j < k; j++) if (kept[corners[j]] !== 0) vertices[v++] = corners[j];
    }
    offset[c + 1] = v;
  }
  return { points: vertices.subarray(0, v), offset };
}

/**
 * Douglas-Peucker on one closed contour of k corners, split at its pinned points (at its first
 * corner when none is pinned); sets `kept` for the survivors, at least 3 of them.
 */
function simplifyRing(
  points: Int32Array, corners: Int32Array, k: number, pinned: Uint8Array, kept: Uint8Array, stack: Int32Array, tol2: number,
): void {
  let first = 0;
  while (first < k && pinned[corners[first]] === 0) first++;
  if (first === k) first = 0;
  // chains between consecutive anchors, as ring positions a < b (the ring unrolled twice)
  let top = 0;
  for (let j = first + 1, a = first; j <= first + k; j++) {
    if (j === first + k || pinned[corners[j % k]] !== 0) { stack[top++] = a; stack[top++] = j; a = j; }
  }
  kept[corners[first]] = 1;
  while (top > 0) {
    const b = stack[--top], a = stack[--top];
    kept[corners[b % k]] = 1;
    // the corner between a and b farthest from the chord segment (from the point when a and b meet)
    const pa = corners[a % k], pb = corners[b % k];
    const ax = points[2 * pa], ay = points[2 * pa + 1];
    const dx = points[2 * pb] - ax, dy = points[2 * pb + 1] - ay;
    const len2 = dx * dx + dy * dy;
    let far = -1, far2 = tol2;
    for (let j = a + 1; j < b; j++) {
      const p = corners[j % k];
      let ex = points[2 * p] - ax, ey = points[2 * p + 1] - ay;
      if (len2 > 0) {
        const t = Math.min(1, Math.max(0, (ex * dx + ey * dy) / len2));
        ex -= t * dx;
        ey -= t * dy;
      }
      const d2 = ex * ex + ey * ey;
      if (d2 > far2) { far2 = d2; far = j; }
    }
    if (far < 0) continue;
    stack[top++] = a; stack[top++] = far;
    stack[top++] = far; stack[top++] = b;
  }
  let survivors = 0;
  for (let j = 0; j < k; j++) survivors += kept[corners[j]];
  // A contour within the tolerance of one point keeps its extreme corners, so no part or hole
  // vanishes: leftmost and rightmost span every pixel column it has (rleFrPoly samples columns at
  // x + 0.5 and counts an edge ending on that line only from the left), topmost and bottommost
  // its rows.
  if (survivors < 3) {
    let l = 0, r = 0, t = 0, u = 0;
    for (let j = 1; j < k; j++) {
      const x = points[2 * corners[j]], y = points[2 * corners[j] + 1];
      if (x < points[2 * corners[l]]) l = j;
      if (x > points[2 * corners[r]]) r = j;
      if (y < points[2 * corners[t] + 1]) t = j;
      if (y > points[2 * corners[u] + 1]) u = j;
    }
    kept[corners[l]] = kept[corners[r]] = kept[corners[t]] = kept[corners[u]] = 1;
  }
}

/**
 * One polygon per outer contour: its vertices in walking order, and at each bridge end the hole
 * bridged there (its vertices from its top-left edge round and back, then the bridge end again),
 * depth first. Coordinates leave the doubled window frame for image pixels.
 */
function assemblePolygons(contours: Contours, vertices: Vertices, left: number, top: number): number[][] {
  const { points, count } = contours;
  const { offset } = vertices;
  /** point -> the hole bridged to it, or -1 */
  const bridgedHole = new Int32Array(points.length / 2).fill(-1);
  for (let c = 0; c < count; c++) if (contours.hole[c] !== 0) bridgedHole[contours.bridgeTo[c]] = c;
  // doubled coordinates of one polygon: each vertex once, each bridge end twice more
  const xy = new Int32Array(2 * (vertices.points.length + 2 * count));
  const polygons: number[][] = [];
  // the walk: the contours entered, each with the position of its next vertex
  const rings: number[] = [];
  const next: number[] = [];
  for (let outer = 0; outer < count; outer++) {
    if (contours.hole[outer] !== 0) continue;
    let m = 0;
    rings.push(outer);
    next.push(offset[outer]);
    while (rings.length > 0) {
      const last = rings.length - 1, r = rings[last], j = next[last];
      if (j === offset[r + 1]) {
        rings.pop();
        next.pop();
        if (contours.hole[r] !== 0) {
          // close the hole at its bridge end, then back up the bridge
          const s = vertices.points[offset[r]], b = contours.bridgeTo[r];
          xy[m++] = points[2 * s]; xy[m++] = points[2 * s + 1];
          xy[m++] = points[2 * b]; xy[m++] = points[2 * b + 1];
        }
        continue;
      }
      next[last] = j + 1;
      const p = vertices.points[j];
      xy[m++] = points[2 * p];
      xy[m++] = points[2 * p + 1];
      const hole = bridgedHole[p];
      if (hole >= 0) { rings.push(hole); next.push(offset[hole]); }
    }
    if (m < 6) continue;
    // a plain array (JSON writes it as a list), filled by index: growing it by push is slower
    const polygon = new Array<number>(m);
    for (let i = 0; i < m; i += 2) { polygon[i] = left + xy[i] / 2; polygon[i + 1] = top + xy[i + 1] / 2; }
    polygons.push(polygon);
  }
  return polygons;
}
