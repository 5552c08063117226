/**
 * RoIAlign equal to torchvision 0.14's CPU kernel (`torchvision.ops.roi_align`,
 * csrc/ops/cpu/roi_align_kernel.cpp + roi_align_common.h, instantiated with T = float).
 *
 * Glossary: N images, C channels, H x W feature map; K RoIs; PH x PW pooled output (`outputSize`);
 * GH x GW sampling grid of one output bin (`samplingRatio`, or adaptive).
 *
 * What decides parity, matched here:
 * - Sample coordinates are computed in float32 in the kernel's order of operations (Math.fround
 *   after each + - * /), because they decide the discontinuities: a sample with y < -1 or y > H
 *   (or x < -1 or x > W) is dropped (weight 0), y <= 0 is clamped to 0, y >= H - 1 to row H - 1.
 * - `aligned` shifts by -0.5 pixel; without it RoI sides are raised to at least 1 ("malformed RoIs
 *   become 1x1"). Adaptive sampling (`samplingRatio <= 0`) uses ceil(roiHeight / PH) samples per
 *   bin (float32 division); the bin average divides by max(GH * GW, 1), dropped samples included.
 *
 * How it is computed (the speed-up over the kernel's pre_calc): a sample's bilinear weight is
 * (row weight) x (column weight) and its "outside the map" test is (y outside) or (x outside), so
 * per RoI we list, for each output row, the distinct feature rows its GH samples touch with their
 * summed weights, and the same for columns; their products give one short (position, weight) list
 * per bin, merged where samples share a pixel (11.3 taps per bin on average instead of the kernel's
 * 16 for 1000 RPN-like RoIs with a 2x2 grid), shared by all C channels, eight channels per pass.
 * The sum over a bin is done in float64 and rounded once to float32: within a few float32 ulps of
 * the kernel's float32 sum, not bit-identical. Taps of weight 0 are not read (the kernel reads
 * them: a NaN or infinite feature there gives NaN in torchvision, not here). NCHW only: an NHWC
 * loop (channels innermost) measured no faster per channel-tap in V8 and would need a transpose.
 *
 * Input contract (OperatorInputError before any feature is read): shapes and lengths agree, each
 * RoI's batch index is an integer in [0, N), coordinates and spatialScale are finite, the scaled
 * RoI fits float32, outputSize positive integers, at most 2^20 sampling positions per axis and RoI
 * (torchvision would need tens of GB for its pre_calc there). Inverted and empty RoIs are allowed:
 * without `aligned` they become 1x1; with `aligned` and adaptive sampling a side <= 0 gives an
 * empty grid and zeros (torchvision 0.14 gives zeros too, except that it raises
 * "cannot create std::vector larger than max_size()" when exactly one side has GH or GW < 0).
 * K = 0 gives an empty array.
 */
import { OperatorInputError } from './errors.js';

/** A 4-D shape [N, C, H, W] of a row-major (NCHW) Float32Array. */
export type Nchw = readonly [n: number, c: number, h: number, w: number];

/** Options of {@link roiAlign}, with torchvision's defaults. */
export interface RoiAlignOptions {
  /** [PH, PW] pooled output size per RoI, positive integers. */
  outputSize: readonly [height: number, width: number];
  /** Factor from RoI coordinates to feature-map pixels, e.g. 1/4 for a stride-4 map. Default 1. */
  spatialScale?: number;
  /** Samples per bin and axis; <= 0 picks ceil(roi side / output side) per RoI. Default -1. */
  samplingRatio?: number;
  /** Shift by -0.5 pixel (Detectron2's alignment); false is torchvision's legacy default. */
  aligned?: boolean;
}

/** Options after defaults and checks, in the kernel's float32 where it casts. @internal */
export interface RoiAlignParams {
  pooledHeight: number;
  pooledWidth: number;
  /** spatialScale as float32, as the kernel receives it (`const T& spatial_scale`). */
  spatialScale: number;
  samplingRatio: number;
  aligned: boolean;
}

/** Most sampling positions (PH * GH or PW * GW) one RoI may ask for per axis. */
const MAX_SAMPLES_PER_AXIS = 1 << 20;
/** Most elements of one output array. */
const MAX_OUTPUT_LENGTH = 2 ** 31 - 1;

/**
 * RoIAlign with average pooling, as `torchvision.ops.roi_align(input, rois, outputSize,
 * spatialScale, samplingRatio, aligned)` on CPU.
 * @param input Float32Array [N, C, H, W] feature maps
 * @param inputShape [N, C, H, W]
 * @param rois Float32Array [K, 5] (batch index, x1, y1, x2, y2) in image coordinates
 * @param options outputSize [PH, PW], spatialScale (1), samplingRatio (-1: adaptive), aligned (false)
 * @returns Float32Array [K, C, PH, PW]
 */
export function roiAlign(input: Float32Array, inputShape: Nchw, rois: Float32Array, options: RoiAlignOptions): Float32Array {
  const op = 'roiAlign';
  const [n, c, h, w] = checkFeatureShape(op, 'input', input, inputShape);
  const params = resolveRoiAlignParams(op, options, options.spatialScale ?? 1);
  if (!(rois instanceof Float32Array) || rois.length % 5 !== 0) {
    throw new OperatorInputError(op, `rois must be a Float32Array [K, 5] (batch index, x1, y1, x2, y2), got ${rois instanceof Float32Array ? `${rois.length} numbers` : typeof rois}`);
  }
  const k = rois.length / 5;
  for (let r = 0; r < k; r++) {
    checkBatchIndex(op, `rois[${r}, 0]`, rois[5 * r], n);
    checkCoordinates(op, `rois[${r}]`, rois, 5 * r + 1);
  }
  const out = allocateOutput(op, k, c, params);
  if (out.length === 0) return out;
  checkMapNotEmpty(op, 'input', h, w);
  const ws = new RoiAlignWorkspace();
  const binLength = c * params.pooledHeight * params.pooledWidth;
  for (let r = 0; r < k; r++) {
    const o = 5 * r;
    alignRoi(input, inputShape, rois[o], rois[o + 1], rois[o + 2], rois[o + 3], rois[o + 4], params, ws, out, r * binLength, `rois[${r}]`);
  }
  return out;
}

/** Checks a feature array against its [N, C, H, W] shape; returns the shape. @internal */
export function checkFeatureShape(op: string, name: string, data: Float32Array, shape: Nchw): Nchw {
  if (!(data instanceof Float32Array)) throw new OperatorInputError(op, `${name} must be a Float32Array [N, C, H, W]`);
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new OperatorInputError(op, `${name} shape must be [N, C, H, W] of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const size = shape[0] * shape[1] * shape[2] * shape[3];
  if (data.length !== size) {
    throw new OperatorInputError(op, `${name} has ${data.length} numbers but its shape [${shape.join(', ')}] needs ${size}`);
  }
  return shape;
}

/** The kernel indexes row H - 1 and column W - 1: a map without pixels has nothing to sample. @internal */
export function checkMapNotEmpty(op: string, name: string, h: number, w: number): void {
  if (h < 1 || w < 1) throw new OperatorInputError(op, `${name} is ${h}x${w}: RoIs cannot be pooled from a map without pixels`);
}

/** Applies defaults and checks outputSize, spatialScale and samplingRatio. @internal */
export function resolveRoiAlignParams(
  op: string,
  options: { outputSize: readonly [number, number]; samplingRatio?: number; aligned?: boolean },
  spatialScale: number,
  defaultSamplingRatio = -1,
): RoiAlignParams {
  const size = options.outputSize;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new OperatorInputError(op, `outputSize must be [height, width] of positive integers, got ${JSON.stringify(size)}`);
  }
  const scale = Math.fround(spatialScale);
  if (!(Number.isFinite(scale) && scale > 0)) {
    throw new OperatorInputError(op, `spatialScale must be finite and > 0 in float32, got ${spatialScale}`);
  }
  const samplingRatio = options.samplingRatio ?? defaultSamplingRatio;
  if (!Number.isSafeInteger(samplingRatio)) {
    throw new OperatorInputError(op, `samplingRatio must be an integer (<= 0: adaptive), got ${samplingRatio}`);
  }
  if (samplingRatio > 0 && samplingRatio * Math.max(size[0], size[1]) > MAX_SAMPLES_PER_AXIS) {
    throw new OperatorInputError(op, `samplingRatio ${samplingRatio} x outputSize [${size.join(', ')}] asks for more than ${MAX_SAMPLES_PER_AXIS} samples per axis`);
  }
  return { pooledHeight: size[0], pooledWidth: size[1], spatialScale: scale, samplingRatio, aligned: options.aligned ?? false };
}

/** Checks a batch index like the kernel's `int roi_batch_ind = rois[0]`, without its OOB read. @internal */
export function checkBatchIndex(op: string, name: string, value: number, n: number): void {
  if (!(Number.isInteger(value) && value >= 0 && value < n)) {
    throw new OperatorInputError(op, `${name} batch index ${value} is not an integer in [0, ${n})`);
  }
}

/** Checks the 4 coordinates data[at..at+3] are finite. @internal */
export function checkCoordinates(op: string, name: string, data: Float32Array, at: number): void {
  for (let i = at; i < at + 4; i++) {
    if (!Number.isFinite(data[i])) {
      throw new OperatorInputError(op, `${name} has a non-finite coordinate (${data[i]}): (x1, y1, x2, y2) = (${data[at]}, ${data[at + 1]}, ${data[at + 2]}, ${data[at + 3]})`);
    }
  }
}

/** Allocates the zeroed [K, C, PH, PW] output, refusing sizes no Float32Array holds. @internal */
export function allocateOutput(op: string, k: number, c: number, p: RoiAlignParams): Float32Array {
  const length = k * c * p.pooledHeight * p.pooledWidth;
  if (length > MAX_OUTPUT_LENGTH) {
    throw new OperatorInputError(op, `output [${k}, ${c}, ${p.pooledHeight}, ${p.pooledWidth}] has ${length} elements, more than ${MAX_OUTPUT_LENGTH}`);
  }
  return new Float32Array(length);
}

/**
 * Reusable per-call buffers: the taps of one RoI along each axis and their per-bin products.
 * They grow when a RoI needs more; nothing is allocated per channel or per sample. @internal
 */
export class RoiAlignWorkspace {
  readonly rows = new AxisTaps();
  readonly cols = new AxisTaps();
  /** Per bin b of PH * PW: taps binStart[b]..binStart[b+1] of (tapPos: y * W + x, tapWeight). */
  binStart = new Int32Array(1);
  tapPos = new Int32Array(0);
  tapWeight = new Float64Array(0);
  /** merge bookkeeping over feature rows/columns: slot of a row in the current bin, stamped by owner */
  owner = new Int32Array(0);
  slot = new Int32Array(0);
  stamp = 0;

  /** Prepares the merge bookkeeping for a map whose longer side is `size`. */
  ensureMapSize(size: number): void {
    if (this.owner.length < size) {
      this.owner = new Int32Array(size);
      this.slot = new Int32Array(size);
      this.stamp = 0;
    }
  }

  /** A fresh stamp for one bin's merge, resetting the owners long before int32 overflow. */
  nextStamp(): number {
    if (this.stamp >= 0x3fffffff) {
      this.owner.fill(0);
      this.stamp = 0;
    }
    return ++this.stamp;
  }
}

/** Taps of one axis: for each output bin p, indices idx[start[p]..start[p+1]) and summed weights. @internal */
export class AxisTaps {
  start = new Int32Array(1);
  idx = new Int32Array(0);
  weight = new Float64Array(0);

  ensure(pooled: number, taps: number): void {
    if (this.start.length < pooled + 1) this.start = new Int32Array(pooled + 1);
    if (this.idx.length < taps) {
      this.idx = new Int32Array(taps);
      this.weight = new Float64Array(taps);
    }
  }
}

/**
 * Pools one RoI from a map into out[outOffset .. + C * PH * PW] (layout [C, PH, PW]).
 * The RoI must have passed {@link checkBatchIndex} and {@link checkCoordinates}. @internal
 */
export function alignRoi(
  input: Float32Array, shape: Nchw, batchIndex: number, x1: number, y1: number, x2: number, y2: number,
  p: RoiAlignParams, ws: RoiAlignWorkspace, out: Float32Array, outOffset: number, name: string,
): void {
  const [, c, h, w] = shape;
  const taps = roiAxisTaps(h, w, x1, y1, x2, y2, p, ws, name);
  combineTaps(ws, p.pooledHeight, p.pooledWidth, w, taps.rows * taps.cols, taps.scale);
  poolChannels(input, (batchIndex * c) * h * w, c, h * w, p.pooledHeight * p.pooledWidth, ws, out, outOffset);
}

/** One RoI's taps per axis, left in `ws.rows` and `ws.cols`, and the bin average's 1 / count. @internal */
export interface RoiAxisTaps {
  rows: number;
  cols: number;
  scale: number;
}

/**
 * The row and column taps of one RoI on an h x w map (see the file comment); the products of a
 * bin's row and column weights, times `scale`, are its bilinear taps. @internal
 */
export function roiAxisTaps(h: number, w: number, x1: number, y1: number, x2: number, y2: number, p: RoiAlignParams, ws: RoiAlignWorkspace, name: string): RoiAxisTaps {
  // The kernel: start = coordinate * spatial_scale - offset, all float32; "do not use rounding".
  const offset = p.aligned ? 0.5 : 0;
  const startW = Math.fround(Math.fround(x1 * p.spatialScale) - offset);
  const startH = Math.fround(Math.fround(y1 * p.spatialScale) - offset);
  const endW = Math.fround(Math.fround(x2 * p.spatialScale) - offset);
  const endH = Math.fround(Math.fround(y2 * p.spatialScale) - offset);
  let roiWidth = Math.fround(endW - startW);
  let roiHeight = Math.fround(endH - startH);
  if (!Number.isFinite(roiWidth) || !Number.isFinite(roiHeight)) {
    throw new OperatorInputError('roiAlign', `${name} times spatialScale ${p.spatialScale} overflows float32`);
  }
  if (!p.aligned) {
    // torchvision: "Force malformed ROIs to be 1x1".
    roiWidth = Math.max(roiWidth, 1);
    roiHeight = Math.max(roiHeight, 1);
  }
  const binH = Math.fround(roiHeight / p.pooledHeight);
  const binW = Math.fround(roiWidth / p.pooledWidth);
  const gridH = gridSize(p.samplingRatio, roiHeight, p.pooledHeight, name);
  const gridW = gridSize(p.samplingRatio, roiWidth, p.pooledWidth, name);
  // The kernel's `count`: dropped (outside) samples count too; an empty grid averages over 1.
  const count = Math.fround(Math.max(gridH * gridW, 1));
  ws.ensureMapSize(Math.max(h, w));
  const rows = axisTaps(startH, binH, p.pooledHeight, gridH, h, ws.rows, ws);
  const cols = axisTaps(startW, binW, p.pooledWidth, gridW, w, ws.cols, ws);
  return { rows, cols, scale: 1 / count };
}

/** GH (or GW): the fixed ratio, or the kernel's adaptive ceil(roi side / pooled side) in float32. */
function gridSize(samplingRatio: number, roiSide: number, pooled: number, name: string): number {
  if (samplingRatio > 0) return samplingRatio;
  const g = Math.ceil(Math.fround(roiSide / pooled));
  if (g * pooled > MAX_SAMPLES_PER_AXIS) {
    throw new OperatorInputError('roiAlign', `${name} spans ${roiSide} feature pixels: adaptive sampling would take ${g} x ${pooled} samples per axis (at most ${MAX_SAMPLES_PER_AXIS}); clip the RoI or give a positive samplingRatio`);
  }
  // A side <= 0 (only with `aligned`) gives an empty grid; its samples never run.
  return Math.max(g, 0);
}

/**
 * The taps of one axis, as the kernel's pre_calc computes a sample's y (or x): for each bin p and
 * sample i, v = start + p * bin + (i + .5) * bin / grid in float32; v outside [-1, size] is
 * dropped; otherwise clamped to >= 0, low = trunc(v) (or size - 1 with v = low at the far edge),
 * and rows low and low + 1 get weights 1 - (v - low) and v - low. Equal rows of a bin are merged.
 * @returns the number of taps written
 */
function axisTaps(start: number, bin: number, pooled: number, grid: number, size: number, taps: AxisTaps, ws: RoiAlignWorkspace): number {
  taps.ensure(pooled, pooled * Math.min(2 * grid, size));
  const g = Math.fround(grid);
  let n = 0;
  for (let b = 0; b < pooled; b++) {
    taps.start[b] = n;
    const stamp = ws.nextStamp();
    const binStart = Math.fround(start + Math.fround(b * bin));
    for (let i = 0; i < grid; i++) {
      let v = Math.fround(binStart + Math.fround(Math.fround((i + 0.5) * bin) / g));
      if (!(v >= -1 && v <= size)) continue;
      if (v <= 0) v = 0;
      let low = Math.trunc(v);
      let high = low + 1;
      if (low >= size - 1) {
        low = high = size - 1;
        v = low;
      }
      const l = Math.fround(v - low);
      n = addTap(taps, ws, stamp, n, low, Math.fround(1 - l));
      n = addTap(taps, ws, stamp, n, high, l);
    }
  }
  taps.start[pooled] = n;
  return n;
}

/** Adds weight to row (or column) `at` of the current bin, merging with an equal one; returns the tap count. */
function addTap(taps: AxisTaps, ws: RoiAlignWorkspace, stamp: number, n: number, at: number, weight: number): number {
  if (weight === 0) return n;
  if (ws.owner[at] === stamp) {
    taps.weight[ws.slot[at]] += weight;
    return n;
  }
  ws.owner[at] = stamp;
  ws.slot[at] = n;
  taps.idx[n] = at;
  taps.weight[n] = weight;
  return n + 1;
}

/** Per bin (ph, pw): the products of its row taps and column taps, scaled by 1 / count. */
function combineTaps(ws: RoiAlignWorkspace, pooledHeight: number, pooledWidth: number, width: number, total: number, scale: number): void {
  if (ws.binStart.length < pooledHeight * pooledWidth + 1) ws.binStart = new Int32Array(pooledHeight * pooledWidth + 1);
  if (ws.tapPos.length < total) {
    ws.tapPos = new Int32Array(total);
    ws.tapWeight = new Float64Array(total);
  }
  const { rows, cols, binStart, tapPos, tapWeight } = ws;
  let n = 0;
  let bin = 0;
  for (let ph = 0; ph < pooledHeight; ph++) {
    for (let pw = 0; pw < pooledWidth; pw++) {
      binStart[bin++] = n;
      for (let t = rows.start[ph]; t < rows.start[ph + 1]; t++) {
        const rowPos = rows.idx[t] * width;
        const rowWeight = rows.weight[t] * scale;
        for (let u = cols.start[pw]; u < cols.start[pw + 1]; u++) {
          tapPos[n] = rowPos + cols.idx[u];
          tapWeight[n++] = rowWeight * cols.weight[u];
        }
      }
    }
  }
  binStart[bin] = n;
}

/**
 * out[outOffset + (ch * bins + b)] = sum of bin b's taps over channel ch's plane. Eight channels
 * go together so that each tap's position and weight are loaded once for eight planes (measured:
 * 1.3x faster than four, sixteen no faster).
 */
function poolChannels(input: Float32Array, base: number, channels: number, plane: number, bins: number, ws: RoiAlignWorkspace, out: Float32Array, outOffset: number): void {
  const { binStart, tapPos, tapWeight } = ws;
  let ch = 0;
  for (; ch + 8 <= channels; ch += 8) {
    const b0 = base + ch * plane;
    const b1 = b0 + plane;
    const b2 = b1 + plane;
    const b3 = b2 + plane;
    const b4 = b3 + plane;
    const b5 = b4 + plane;
    const b6 = b5 + plane;
    const b7 = b6 + plane;
    let o = outOffset + ch * bins;
    let t = binStart[0];
    for (let b = 1; b <= bins; b++, o++) {
      const end = binStart[b];
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
      for (; t < end; t++) {
        const pos = tapPos[t];
        const wgt = tapWeight[t];
        a0 += wgt * input[b0 + pos];
        a1 += wgt * input[b1 + pos];
        a2 += wgt * input[b2 + pos];
        a3 += wgt * input[b3 + pos];
        a4 += wgt * input[b4 + pos];
        a5 += wgt * input[b5 + pos];
        a6 += wgt * input[b6 + pos];
        a7 += wgt * input[b7 + pos];
      }
      out[o] = a0;
      out[o + bins] = a1;
      out[o + 2 * bins] = a2;
      out[o + 3 * bins] = a3;
      out[o + 4 * bins] = a4;
      out[o + 5 * bins] = a5;
      out[o + 6 * bins] = a6;
      out[o + 7 * bins] = a7;
    }
  }
  for (; ch < channels; ch++) {
    const b0 = base + ch * plane;
    let o = outOffset + ch * bins;
    let t = binStart[0];
    for (let b = 1; b <= bins; b++) {
      const end = binStart[b];
      let acc = 0;
      for (; t < end; t++) acc += tapWeight[t] * input[b0 + tapPos[t]];
      out[o++] = acc;
    }
  }
}
