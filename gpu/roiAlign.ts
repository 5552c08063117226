/**
 * RoIAlign as ONNX ops that onnxruntime's WebGPU provider runs on the GPU: GridSample (opset 16)
 * samples every bin's sampling points, a validity mask zeroes the points torchvision drops, and
 * AveragePool averages each bin's samplingRatio x samplingRatio points. Equal to torchvision 0.14's
 * `roi_align(aligned=False)` (and so to postprocess/roiAlign) up to float rounding.
 *
 * K: RoIs, C: channels, H, W: the level's size, P: pooled size, r: sampling ratio, S = P * r
 * sampling points per side.
 *
 * How torchvision's CPU kernel maps onto GridSample (`align_corners=0`, `padding_mode='border'`):
 * - a sampling point of bin (ph, pw) is at x = x1 * scale + (pw + (ix + 0.5) / r) * binW with
 *   binW = max(x2 * scale - x1 * scale, 1) / P (aligned=False's minimum RoI size of 1);
 * - GridSample reads pixel coordinate ((gx + 1) * W - 1) / 2, so gx = (2x + 1) / W - 1;
 * - torchvision clamps a point in [-1, 0] to 0 and one in [W - 1, W] to W - 1, which is what border
 *   padding's clamping gives; a point outside [-1, W] (or [-1, H]) counts as 0, which the mask does.
 */
import { type GraphBuilder, type Value, attr } from '../onnx/index.js';

/** One level's RoIAlign: torchvision's `roi_align` arguments, aligned=False. */
export interface GridRoiAlignOptions {
  /** P: the pooled size (square, as torchvision's poolers). */
  outputSize: number;
  /** r > 0: sampling points per bin side (torchvision's adaptive r <= 0 has no static graph). */
  samplingRatio: number;
  /** 1 / the level's stride. */
  spatialScale: number;
}

/** Checks what the graph can express, naming the option at fault. */
export function checkGridRoiAlignOptions(o: GridRoiAlignOptions): void {
  if (!(Number.isInteger(o.outputSize) && o.outputSize > 0)) throw new RangeError(`RoIAlign graph: outputSize must be an integer > 0, got ${o.outputSize}`);
  if (!(Number.isInteger(o.samplingRatio) && o.samplingRatio > 0)) {
    throw new RangeError(`RoIAlign graph: samplingRatio must be an integer > 0 (the adaptive ratio, <= 0, depends on each RoI's size and has no GPU graph), got ${o.samplingRatio}`);
  }
  if (!(o.spatialScale > 0)) throw new RangeError(`RoIAlign graph: spatialScale must be > 0, got ${o.spatialScale}`);
}

/**
 * Appends RoIAlign of `rois` over `features` to `g`.
 * @param features [1, C, H, W] one image's level
 * @param rois [K, 4] x1,y1,x2,y2 in image coordinates (K may be 0)
 * @returns [K, C, P, P]
 */
export function addGridRoiAlign(g: GraphBuilder, features: Value, rois: Value, o: GridRoiAlignOptions): Value {
  checkGridRoiAlignOptions(o);
  const p = o.outputSize;
  const r = o.samplingRatio;
  const s = p * r;
  // A dummy RoI is appended and its result dropped at the end, so that no node sees an empty
  // tensor when a level gets no RoIs (zero-sized dispatches are where GPU kernels differ).
  const padded = g.concat([rois, g.constFloat([0, 0, 1, 1], [1, 4])], 0);
  const scaled = g.mul(padded, g.constFloat([o.spatialScale], [1]));
  const column = (i: number) => g.slice(scaled, [i], [i + 1], [1]); // [K+1, 1]
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map(column);
  const one = g.constFloat([1], [1]);
  const binW = g.div(g.node('Max', [g.sub(x2, x1), one])[0], g.constFloat([p], [1]));
  const binH = g.div(g.node('Max', [g.sub(y2, y1), one])[0], g.constFloat([p], [1]));
  // (pw + (ix + 0.5) / r) for sampling point j = pw * r + ix, i.e. (j + 0.5) / r
  const t = g.constFloat(Array.from({ length: s }, (_, j) => (j + 0.5) / r), [1, s]);
  const x = g.add(x1, g.mul(t, binW)); // [K+1, S]
  const y = g.add(y1, g.mul(t, binH));
  const size = g.node('Cast', [g.shape(features, 2, 4)], { to: attr.int(1) })[0]; // [H, W] as float
  const height = g.slice(size, [0], [1], [0]);
  const width = g.slice(size, [1], [2], [0]);
  const normalized = (v: Value, extent: Value) => g.sub(g.div(g.add(g.add(v, v), one), extent), one);
  const gx = g.reshape(normalized(x, width), g.constInt64([-1, 1, s, 1]));
  const gy = g.reshape(normalized(y, height), g.constInt64([-1, s, 1, 1]));
  const zero = g.constFloat([0], [1]);
  const grid = g.concat([g.add(gx, g.mul(gy, zero)), g.add(gy, g.mul(gx, zero))], 3); // [K+1, S, S, 2]
  const sampled = g.node('GridSample', [features, g.reshape(grid, g.constInt64([1, -1, s, 2]))], {
    mode: attr.string('bilinear'), padding_mode: attr.string('border'), align_corners: attr.int(0),
  })[0]; // [1, C, (K+1) * S, S]
  // torchvision's `y < -1 || y > height` (and x): such a point contributes 0 to its bin's mean
  const inside = (v: Value, extent: Value) => g.mul(
    g.node('Cast', [g.node('GreaterOrEqual', [v, g.constFloat([-1], [1])])[0]], { to: attr.int(1) })[0],
    g.node('Cast', [g.node('LessOrEqual', [v, extent])[0]], { to: attr.int(1) })[0],
  );
  const mask = g.mul(g.reshape(inside(y, height), g.constInt64([-1, s, 1])), g.reshape(inside(x, width), g.constInt64([-1, 1, s])));
  const masked = g.mul(sampled, g.reshape(mask, g.constInt64([1, 1, -1, s])));
  // each bin's r x r points: [C, (K+1) * P, r, P, r] -> mean over the two r axes
  const channels = g.shape(features, 1, 2);
  const bins = g.reshape(masked, g.concat([channels, g.constInt64([-1, r, p, r])], 0));
  const pooled = g.node('ReduceMean', [bins], { axes: attr.ints([2, 4]), keepdims: attr.int(0) })[0]; // [C, (K+1) * P, P]
  const perRoi = g.transpose(g.reshape(pooled, g.concat([channels, g.constInt64([-1, p, p])], 0)), [1, 0, 2, 3]); // [K+1, C, P, P]
  return g.node('Slice', [perRoi, g.constInt64([0]), g.constInt64([-1]), g.constInt64([0])])[0];
}
