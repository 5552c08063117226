/**
 * COCO run-length encoding, equal to pycocotools' `common/maskApi.c` (cocodataset/cocoapi):
 * rleEncode, rleDecode, rleToString / rleFrString, rleArea, rleToBbox, rleIou, rleMerge, rleFrPoly.
 *
 * An RLE walks the mask in column-major (Fortran) order, x outer, y inner, and lists alternating run
 * lengths starting with a run of zeros (possibly of length 0). Masks in and out of this module are
 * row-major Uint8Array [H, W], as the rest of resdet lays them out; the transposition is ours.
 * The compressed string is LEB128-like: 5 value bits per char plus a continuation bit (0x20), the
 * last char's 0x10 bit giving the sign, offset by 48 ('0'); from the fourth count on, each count is
 * stored as its difference from the count two before (same colour, so usually small).
 *
 * Every function validates its RLEs first (counts non-negative integers summing to H * W), so a
 * malformed string or counts array is an OperatorInputError instead of maskApi.c's out-of-bounds
 * writes.
 */
import { OperatorInputError } from './errors.js';

/** An uncompressed COCO RLE, as COCO JSON stores crowd annotations: `{ size: [h, w], counts }`. */
export interface Rle {
  size: [height: number, width: number];
  /** Run lengths in column-major order, starting with zeros. */
  counts: number[];
}

/** A compressed COCO RLE, as pycocotools' `encode` returns and COCO result files hold. */
export interface CompressedRle {
  size: [height: number, width: number];
  counts: string;
}

/** Bounding box [x, y, width, height] (COCO's xywh), in pixels. */
export type XywhBox = [x: number, y: number, width: number, height: number];

/** maskApi.c keeps counts in 32-bit unsigned ints. */
const UINT_MAX = 0xffffffff;

function checkSize(op: string, height: number, width: number): void {
  for (const [name, v] of [['height', height], ['width', width]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new OperatorInputError(op, `${name} must be an integer >= 0, got ${v}`);
  }
  if (height * width > UINT_MAX) {
    throw new OperatorInputError(op, `height * width = ${height * width} exceeds the 2^32 - 1 pixels a COCO RLE count can hold`);
  }
}

/** Throws unless `rle` has a valid size and counts that sum to height * width. */
function checkRle(op: string, rle: Rle, name = 'rle'): void {
  if (rle === null || typeof rle !== 'object' || !Array.isArray(rle.size) || rle.size.length !== 2) {
    throw new OperatorInputError(op, `${name} must be { size: [height, width], counts: number[] }`);
  }
  checkSize(op, rle.size[0], rle.size[1]);
  const { counts } = rle;
  if (!Array.isArray(counts)) throw new OperatorInputError(op, `${name}.counts must be an array of run lengths`);
  let sum = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (!Number.isInteger(c) || c < 0 || c > UINT_MAX) {
      throw new OperatorInputError(op, `${name}.counts[${i}] = ${c} is not an integer in [0, 2^32 - 1]`);
    }
    sum += c;
  }
  if (sum !== rle.size[0] * rle.size[1]) {
    throw new OperatorInputError(op, `${name}.counts sum to ${sum}, not height * width = ${rle.size[0] * rle.size[1]}`);
  }
}

/**
 * Run-length encodes a binary mask, as maskApi.c's rleEncode on the Fortran-order mask.
 * Any non-zero byte is foreground (maskApi.c would start a new run at every change of byte value,
 * which only differs for masks that are not 0/1).
 * @param mask Uint8Array [H, W] row-major, 0 = background
 * @returns the RLE; an empty (0-pixel) mask gives counts [0], as maskApi.c does
 */
export function rleEncode(mask: Uint8Array, height: number, width: number): Rle {
  const op = 'rleEncode';
  checkSize(op, height, width);
  if (!(mask instanceof Uint8Array) || mask.length !== height * width) {
    throw new OperatorInputError(op, `mask must be a Uint8Array of height * width = ${height * width} bytes, got ${mask?.length}`);
  }
  return encodeWindow(mask, { left: 0, top: 0, width, height }, height, width);
}

/**
 * Run-length encodes the full-image mask that is zero outside one window, without building it:
 * what {@link rleEncode} gives on the [H, W] mask holding `data` at (left, top) and 0 elsewhere.
 * @param data Uint8Array [height, width] row-major, the window's pixels
 * @param window left, top, width, height of the window in the image; it must lie inside it
 * @param imageHeight H
 * @param imageWidth W
 */
export function rleEncodeWindow(
  data: Uint8Array, window: { left: number; top: number; width: number; height: number },
  imageHeight: number, imageWidth: number,
): Rle {
  const op = 'rleEncodeWindow';
  checkSize(op, imageHeight, imageWidth);
  const { left, top, width, height } = window;
  for (const [name, v] of [['left', left], ['top', top], ['width', width], ['height', height]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new OperatorInputError(op, `window.${name} must be an integer >= 0, got ${v}`);
  }
  if (left + width > imageWidth || top + height > imageHeight) {
    throw new OperatorInputError(op, `window ${width}x${height} at (${left}, ${top}) is not inside the ${imageWidth}x${imageHeight} image`);
  }
  if (!(data instanceof Uint8Array) || data.length !== width * height) {
    throw new OperatorInputError(op, `data must be a Uint8Array of width * height = ${width * height} bytes, got ${data?.length}`);
  }
  return encodeWindow(data, window, imageHeight, imageWidth);
}

/** The column-major runs of a checked window (see rleEncodeWindow), as maskApi.c's rleEncode. */
function encodeWindow(
  data: Uint8Array, window: { left: number; top: number; width: number; height: number },
  imageHeight: number, imageWidth: number,
): Rle {
  const { left, top, width, height } = window;
  const counts: number[] = [];
  let value = 0;
  let run = 0;
  const zeros = (n: number) => {
    if (n === 0) return;
    if (value !== 0) {
      counts.push(run);
      run = 0;
      value = 0;
    }
    run += n;
  };
  zeros(left * imageHeight);
  for (let x = 0; x < width; x++) {
    zeros(top);
    for (let i = x; i < data.length; i += width) {
      const v = data[i] === 0 ? 0 : 1;
      if (v !== value) {
        counts.push(run);
        run = 0;
        value = v;
      }
      run++;
    }
    zeros(imageHeight - top - height);
  }
  zeros((imageWidth - left - width) * imageHeight);
  counts.push(run);
  return { size: [imageHeight, imageWidth], counts };
}

/**
 * Decodes an RLE to a mask, as maskApi.c's rleDecode (transposed to row-major).
 * @returns Uint8Array [H, W] row-major of 0 and 1
 */
export function rleDecode(rle: Rle): Uint8Array {
  checkRle('rleDecode', rle);
  const [height, width] = rle.size;
  const mask = new Uint8Array(height * width);
  let p = 0; // column-major position
  for (let j = 0; j < rle.counts.length; j++) {
    const c = rle.counts[j];
    if (j % 2 === 1 && c > 0) {
      // walk down columns from (y, x) of position p, without a division per pixel
      let x = Math.floor(p / height), y = p - x * height;
      for (let left = c; left > 0; left--) {
        mask[y * width + x] = 1;
        if (++y === height) { y = 0; x++; }
      }
    }
    p += c;
  }
  return mask;
}

/** Compressed string of an RLE, as maskApi.c's rleToString. */
export function rleToString(rle: Rle): string {
  checkRle('rleToString', rle);
  const { counts } = rle;
  const chars: number[] = [];
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i];
    if (i > 2) x -= counts[i - 2];
    for (let more = true; more;) {
      // x & 0x1f and x >>= 5 on a signed 64-bit long; counts exceed int32, so divide instead
      let c = x - Math.floor(x / 32) * 32;
      x = Math.floor(x / 32);
      more = (c & 0x10) !== 0 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      chars.push(c + 48);
    }
  }
  // in slices: spreading a whole large mask's chars would overflow the argument stack
  let s = '';
  for (let i = 0; i < chars.length; i += 8192) s += String.fromCharCode(...chars.slice(i, i + 8192));
  return s;
}

/**
 * Parses a compressed string, as maskApi.c's rleFrString, checking what it does not: characters in
 * '0'..'o', no string cut inside a count, counts within [0, 2^32 - 1] summing to H * W.
 */
export function rleFrString(counts: string, height: number, width: number): Rle {
  const op = 'rleFrString';
  checkSize(op, height, width);
  if (typeof counts !== 'string') throw new OperatorInputError(op, 'counts must be a string');
  const out: number[] = [];
  let p = 0;
  while (p < counts.length) {
    let x = 0;
    let k = 0;
    for (let more = true; more;) {
      if (p >= counts.length) throw new OperatorInputError(op, `counts string ends inside a run length (at char ${p})`);
      const c = counts.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new OperatorInputError(op, `counts string has '${counts[p]}' at ${p}, outside '0'..'o'`);
      if (k > 6) throw new OperatorInputError(op, `run length at char ${p} has more than 7 chunks (over 32 bits)`);
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && (c & 0x10) !== 0) x -= 2 ** (5 * k); // sign-extend: x |= -1 << 5k
    }
    if (out.length > 2) x += out[out.length - 2];
    if (x < 0 || x > UINT_MAX) throw new OperatorInputError(op, `run ${out.length} decodes to ${x}, outside [0, 2^32 - 1]`);
    out.push(x);
  }
  const sum = out.reduce((acc, c) => acc + c, 0);
  if (sum !== height * width) {
    const shown = counts.length > 40 ? `${counts.slice(0, 40)}...` : counts;
    throw new OperatorInputError(op, `the runs of '${shown}' sum to ${sum}, not height * width = ${height * width}`);
  }
  return { size: [height, width], counts: out };
}

/** `{ size, counts: rleToString(rle) }`, the form COCO result files hold. */
export function compressRle(rle: Rle): CompressedRle {
  return { size: [rle.size[0], rle.size[1]], counts: rleToString(rle) };
}

/** Inverse of {@link compressRle}. */
export function decompressRle(rle: CompressedRle): Rle {
  if (rle === null || typeof rle !== 'object' || !Array.isArray(rle.size) || rle.size.length !== 2) {
    throw new OperatorInputError('decompressRle', 'rle must be { size: [height, width], counts: string }');
  }
  return rleFrString(rle.counts, rle.size[0], rle.size[1]);
}

/** Foreground pixel count, as maskApi.c's rleArea (the sum of the odd runs). */
export function rleArea(rle: Rle): number {
  checkRle('rleArea', rle);
  let a = 0;
  for (let j = 1; j < rle.counts.length; j += 2) a += rle.counts[j];
  return a;
}

/**
 * Tight box of the foreground, as maskApi.c's rleToBbox: [x, y, w, h]; [0, 0, 0, 0] when empty.
 * A foreground run that spans columns makes the box full height, as in maskApi.c.
 */
export function rleToBbox(rle: Rle): XywhBox {
  checkRle('rleToBbox', rle);
  const [h, w] = rle.size;
  const m = Math.floor(rle.counts.length / 2) * 2;
  if (m === 0 || h * w === 0) return [0, 0, 0, 0];
  let xs = w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
  for (let j = 0; j < m; j++) {
    cc += rle.counts[j];
    // uint arithmetic: a zero-length first foreground run makes t wrap, as in C
    const t = (cc - (j % 2)) >>> 0;
    const y = t % h;
    const x = (t - y) / h;
    if (j % 2 === 0) xp = x;
    else if (xp < x) { ys = 0; ye = h - 1; }
    xs = Math.min(xs, x); xe = Math.max(xe, x); ys = Math.min(ys, y); ye = Math.max(ye, y);
  }
  return [xs, ys, xe - xs + 1, ye - ys + 1];
}

/**
 * IoU between detections and ground truths, as pycocotools' `iou(dt, gt, iscrowd)` (maskApi.c's
 * rleIou): boxes that do not overlap give 0 without decoding; for a crowd ground truth the union is
 * the detection's area; masks of different sizes whose boxes overlap give -1.
 * @param dt D detection RLEs
 * @param gt G ground-truth RLEs
 * @param isCrowd G flags (COCO `iscrowd`)
 * @returns Float64Array [D, G], iou[d * G + g] (pycocotools' array indexed [d, g])
 */
export function rleIou(dt: readonly Rle[], gt: readonly Rle[], isCrowd: ArrayLike<number | boolean>): Float64Array {
  const op = 'rleIou';
  if (!Array.isArray(dt) || !Array.isArray(gt)) throw new OperatorInputError(op, 'dt and gt must be arrays of RLEs');
  if (isCrowd?.length !== gt.length) {
    throw new OperatorInputError(op, `isCrowd has ${isCrowd?.length} flags for ${gt.length} ground truths`);
  }
  dt.forEach((r, i) => checkRle(op, r, `dt[${i}]`));
  gt.forEach((r, i) => checkRle(op, r, `gt[${i}]`));
  const db = dt.map(rleToBbox), gb = gt.map(rleToBbox);
  const G = gt.length;
  const out = new Float64Array(dt.length * G);
  for (let g = 0; g < G; g++) {
    const crowd = Boolean(isCrowd[g]);
    for (let d = 0; d < dt.length; d++) {
      const o = bbIou(db[d], gb[g], crowd);
      if (!(o > 0)) continue;
      if (dt[d].size[0] !== gt[g].size[0] || dt[d].size[1] !== gt[g].size[1]) out[d * G + g] = -1;
      else out[d * G + g] = maskIou(dt[d].counts, gt[g].counts, crowd);
    }
  }
  return out;
}

/** maskApi.c's bbIou for one pair of xywh boxes. */
function bbIou(D: XywhBox, Gb: XywhBox, crowd: boolean): number {
  const w = Math.min(D[2] + D[0], Gb[2] + Gb[0]) - Math.max(D[0], Gb[0]);
  if (w <= 0) return 0;
  const h = Math.min(D[3] + D[1], Gb[3] + Gb[1]) - Math.max(D[1], Gb[1]);
  if (h <= 0) return 0;
  const i = w * h, da = D[2] * D[3];
  return i / (crowd ? da : da + Gb[2] * Gb[3] - i);
}

/** The run-merging walk of maskApi.c's rleIou over two same-sized RLEs. */
function maskIou(a: number[], b: number[], crowd: boolean): number {
  let ca = a[0], cb = b[0], ka = 1, kb = 1, va = false, vb = false, inter = 0, union = 0;
  for (let ct = 1; ct > 0;) {
    const c = Math.min(ca, cb);
    if (va || vb) { union += c; if (va && vb) inter += c; }
    ct = 0;
    ca -= c; if (ca === 0 && ka < a.length) { ca = a[ka++]; va = !va; } ct += ca;
    cb -= c; if (cb === 0 && kb < b.length) { cb = b[kb++]; vb = !vb; } ct += cb;
  }
  if (inter === 0) union = 1;
  else if (crowd) { union = 0; for (let j = 1; j < a.length; j += 2) union += a[j]; }
  return inter / union;
}

/**
 * Union (or intersection) of same-sized RLEs, as maskApi.c's rleMerge (pycocotools' `merge`, which
 * COCO uses to join the polygons of one annotation).
 * @throws OperatorInputError for an empty list or RLEs of different sizes (maskApi.c returns a 0x0 RLE)
 */
export function rleMerge(rles: readonly Rle[], intersect = false): Rle {
  const op = 'rleMerge';
  if (!Array.isArray(rles) || rles.length === 0) throw new OperatorInputError(op, 'rles must be a non-empty array');
  rles.forEach((r, i) => checkRle(op, r, `rles[${i}]`));
  const [h, w] = rles[0].size;
  let acc = rles[0].counts.slice();
  for (let i = 1; i < rles.length; i++) {
    const B = rles[i].counts;
    if (rles[i].size[0] !== h || rles[i].size[1] !== w) {
      throw new OperatorInputError(op, `rles[${i}] is ${rles[i].size.join('x')}, rles[0] is ${h}x${w}`);
    }
    const A = acc;
    acc = [];
    let ca = A[0], cb = B[0], a = 1, b = 1, va = false, vb = false, v = false, cc = 0;
    for (let ct = 1; ct > 0;) {
      const c = Math.min(ca, cb);
      cc += c; ct = 0;
      ca -= c; if (ca === 0 && a < A.length) { ca = A[a++]; va = !va; } ct += ca;
      cb -= c; if (cb === 0 && b < B.length) { cb = B[b++]; vb = !vb; } ct += cb;
      const vp: boolean = v;
      v = intersect ? va && vb : va || vb;
      if (v !== vp || ct === 0) { acc.push(cc); cc = 0; }
    }
  }
  return { size: [h, w], counts: acc };
}

/** C's (int) cast of a double: truncation; NaN becomes INT_MIN as on x86-64. */
function cInt(v: number): number {
  return Number.isNaN(v) ? -2147483648 : Math.trunc(v);
}

/** Most boundary points rleFrPoly may walk (at its 5x upsampling) before we refuse the polygon. */
const MAX_POLY_POINTS = 10_000_000;

/**
 * Rasterises one polygon, as maskApi.c's rleFrPoly (pycocotools' `frPyObjects` on a polygon):
 * vertices upsampled 5x, boundary walked densely, then the y-boundary of each pixel column taken.
 * @param polygon [x0, y0, x1, y1, ...] in pixels (COCO segmentation order), at least one point
 * @returns the RLE; an image with no pixels gives counts [0]
 */
export function rleFrPoly(polygon: ArrayLike<number>, height: number, width: number): Rle {
  const op = 'rleFrPoly';
  checkSize(op, height, width);
  const k = polygon?.length / 2;
  if (!Number.isInteger(k) || k < 1) throw new OperatorInputError(op, `polygon must hold x, y pairs, got ${polygon?.length} numbers`);
  for (let i = 0; i < polygon.length; i++) {
    if (!Number.isFinite(polygon[i]) || Math.abs(polygon[i]) > 1e7) {
      throw new OperatorInputError(op, `polygon[${i}] = ${polygon[i]} is not a finite coordinate within +-1e7`);
    }
  }
  if (height * width === 0) return { size: [height, width], counts: [0] };
  const [u, v] = densePolygonBoundary(op, polygon, k);
  return columnBoundaryToRle(u, v, height, width);
}

/** Step 1 of rleFrPoly: the 5x upsampled vertices and every integer point along each edge. */
function densePolygonBoundary(op: string, xy: ArrayLike<number>, k: number): [Int32Array, Int32Array] {
  const scale = 5;
  const x = new Int32Array(k + 1), y = new Int32Array(k + 1);
  for (let j = 0; j < k; j++) { x[j] = cInt(scale * xy[2 * j] + 0.5); y[j] = cInt(scale * xy[2 * j + 1] + 0.5); }
  x[k] = x[0]; y[k] = y[0];
  let m = 0;
  for (let j = 0; j < k; j++) m += Math.max(Math.abs(x[j] - x[j + 1]), Math.abs(y[j] - y[j + 1])) + 1;
  if (m > MAX_POLY_POINTS) throw new OperatorInputError(op, `polygon boundary has ${m} points at 5x, over ${MAX_POLY_POINTS}`);
  const u = new Int32Array(m), v = new Int32Array(m);
  m = 0;
  for (let j = 0; j < k; j++) {
    let xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const dx = Math.abs(xe - xs), dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) { [xs, xe] = [xe, xs]; [ys, ye] = [ye, ys]; }
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) { const t = flip ? dx - d : d; u[m] = t + xs; v[m] = cInt(ys + s * t + 0.5); m++; }
    } else {
      for (let d = 0; d <= dy; d++) { const t = flip ? dy - d : d; v[m] = t + ys; u[m] = cInt(xs + s * t + 0.5); m++; }
    }
  }
  return [u, v];
}

/** Steps 2-3 of rleFrPoly: downsampled y-boundary points per column, sorted into run lengths. */
function columnBoundaryToRle(u: Int32Array, v: Int32Array, h: number, w: number): Rle {
  const scale = 5;
  const a: number[] = [];
  for (let j = 1; j < u.length; j++) {
    if (u[j] === u[j - 1]) continue;
    let xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
    xd = (xd + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > w - 1) continue;
    let yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
    yd = (yd + 0.5) / scale - 0.5;
    if (yd < 0) yd = 0; else if (yd > h) yd = h;
    a.push(xd * h + Math.ceil(yd));
  }
  a.push(h * w);
  a.sort((p, q) => p - q);
  for (let j = a.length - 1; j > 0; j--) a[j] -= a[j - 1];
  // join runs across zero-length gaps: a 0 means two boundary points on one pixel, which cancel
  const counts = [a[0]];
  for (let j = 1; j < a.length;) {
    if (a[j] > 0) counts.push(a[j++]);
    else { j++; if (j < a.length) counts[counts.length - 1] += a[j++]; }
  }
  return { size: [h, w], counts };
}
