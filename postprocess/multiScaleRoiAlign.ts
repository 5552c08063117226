/**
 * Multi-scale RoIAlign equal to torchvision 0.14's `MultiScaleRoIAlign` (ops/poolers.py): each box
 * is pooled from one pyramid level chosen by the FPN paper's Eqn. 1 (`LevelMapper`), with
 * `roi_align(level, rois, outputSize, 1 / stride, samplingRatio)`; results come back in box order.
 *
 * Glossary: N images, C channels (equal on every level), Hl x Wl the map of level l; Ki boxes of
 * image i, K = sum Ki; PH x PW pooled output.
 *
 * Scales are declared, not inferred: a level's spatial scale is 1 / stride. torchvision instead
 * infers each scale once, on the first call, as 2 ** round(log2(Hl / max image height)) from the
 * unpadded image sizes (torchvision #3747). The two agree whenever the declared strides are the
 * real ones and the padded image is less than ~1.41x the unpadded one per side, e.g. a 799x1199
 * image padded to 800x1216 gives maps 200x304 .. 25x38 and inferred scales 1/4 .. 1/32 = 1/stride.
 * The levels must be the ones torchvision pools (featmap_names '0'..'3' of a ResNet-FPN, not 'pool').
 *
 * Parity details: the box area, sqrt, log2, + 4, + eps and floor are in float32 as torch computes
 * them; a box with negative area (exactly one side inverted) has level NaN in torchvision, is
 * pooled by no level and stays zero, and so it does here; zero-area boxes go to the lowest level.
 * With a single level torchvision skips the mapper, and so do we.
 */
import { OperatorInputError } from './errors.js';
import {
  type Nchw, type RoiAlignParams, RoiAlignWorkspace, alignRoi, allocateOutput, checkCoordinates, checkFeatureShape,
  checkMapNotEmpty, resolveRoiAlignParams,
} from './roiAlign.js';

/** One pyramid level as a backbone declares it (name, stride, channels: Detectron2's ShapeSpec), with its data. */
export interface LevelFeatures {
  /** Level name, e.g. '0' or 'p2'; used in error messages. */
  name: string;
  /** Feature stride in input pixels, a power of two; the spatial scale is 1 / stride. */
  stride: number;
  /** Declared channel count; must equal shape[1] and every other level's. */
  channels: number;
  /** Float32Array [N, C, H, W]. */
  data: Float32Array;
  shape: Nchw;
}

/** Options of {@link multiScaleRoiAlign}, with torchvision's MultiScaleRoIAlign defaults. */
export interface MultiScaleRoiAlignOptions {
  /** [PH, PW]: 7x7 for the box head, 14x14 for the mask head. */
  outputSize: readonly [height: number, width: number];
  /** Samples per bin and axis; <= 0 adaptive. torchvision's detection models use 2 (the default here). */
  samplingRatio?: number;
  /** MultiScaleRoIAlign never sets it: false. */
  aligned?: boolean;
  /** Box side pooled from the canonical level (FPN Eqn. 1: 224). */
  canonicalScale?: number;
  /** Level of a canonicalScale x canonicalScale box (4). */
  canonicalLevel?: number;
}

/** Level-mapper parameters (torchvision's LevelMapper). */
export interface LevelMapperOptions {
  /** Lowest and highest pyramid level k (log2 of the stride), e.g. 2 and 5. */
  kMin: number;
  kMax: number;
  canonicalScale?: number;
  canonicalLevel?: number;
  /** Added before the floor so that exact powers of two land on their level; torchvision: 1e-6. */
  eps?: number;
}

const op = 'multiScaleRoiAlign';

/**
 * For each box, the index (0 .. kMax - kMin) of the level it is pooled from, as torchvision's
 * `LevelMapper`: floor(canonicalLevel + log2(sqrt(area) / canonicalScale) + eps) clamped to
 * [kMin, kMax], minus kMin, in float32.
 * @param boxes Float32Array [K, 4] x1,y1,x2,y2 in image coordinates
 * @returns Int32Array [K]; -1 where the area is negative or NaN (torchvision's NaN level: the box
 *   matches no level and its pooled features stay zero)
 */
export function assignLevels(boxes: Float32Array, options: LevelMapperOptions): Int32Array {
  if (!(boxes instanceof Float32Array) || boxes.length % 4 !== 0) {
    throw new OperatorInputError('assignLevels', 'boxes must be a Float32Array [K, 4] x1,y1,x2,y2');
  }
  const { kMin, kMax } = options;
  if (!Number.isSafeInteger(kMin) || !Number.isSafeInteger(kMax) || kMin > kMax) {
    throw new OperatorInputError('assignLevels', `kMin and kMax must be integers with kMin <= kMax, got ${kMin}, ${kMax}`);
  }
  const s0 = Math.fround(options.canonicalScale ?? 224);
  const lvl0 = Math.fround(options.canonicalLevel ?? 4);
  const eps = Math.fround(options.eps ?? 1e-6);
  const k = boxes.length / 4;
  const levels = new Int32Array(k);
  for (let i = 0; i < k; i++) {
    const o = 4 * i;
    const area = Math.fround(Math.fround(boxes[o + 2] - boxes[o]) * Math.fround(boxes[o + 3] - boxes[o + 1]));
    const s = Math.fround(Math.sqrt(area));
    const target = Math.floor(Math.fround(Math.fround(lvl0 + Math.fround(Math.log2(Math.fround(s / s0)))) + eps));
    // torch.clamp keeps NaN; NaN.to(int64) then matches no level.
    levels[i] = Number.isNaN(target) ? -1 : Math.min(Math.max(target, kMin), kMax) - kMin;
  }
  return levels;
}

/**
 * Multi-scale RoIAlign, as torchvision's `MultiScaleRoIAlign(featmapNames, outputSize,
 * samplingRatio)(features, boxes, imageShapes)` on CPU, with scales from the declared strides.
 * @param levels the pooled pyramid levels, by increasing stride (each equal to the previous or double it), each
 *   Float32Array [N, C, Hl, Wl]
 * @param boxes per image i < N, Float32Array [Ki, 4] x1,y1,x2,y2 in (resized, unpadded) image coordinates
 * @param options outputSize [PH, PW], samplingRatio (2), aligned (false), canonicalScale (224), canonicalLevel (4)
 * @returns Float32Array [K, C, PH, PW], K = sum Ki, in the order of the boxes
 */
export function multiScaleRoiAlign(levels: readonly LevelFeatures[], boxes: readonly Float32Array[], options: MultiScaleRoiAlignOptions): Float32Array {
  const plan = planMultiScale(levels, boxes, options);
  const out = allocateOutput(op, plan.k, plan.c, plan.params[0]);
  if (out.length === 0) return out;
  const ws = new RoiAlignWorkspace();
  const roiLength = plan.c * plan.params[0].pooledHeight * plan.params[0].pooledWidth;
  const { rois } = plan;
  for (const r of plan.order) {
    const level = rois.level[r];
    if (level < 0) continue;
    const l = levels[level];
    const i = rois.image[r];
    const o = 4 * rois.box[r];
    const b = boxes[i];
    alignRoi(l.data, l.shape, i, b[o], b[o + 1], b[o + 2], b[o + 3], plan.params[level], ws, out, r * roiLength, `boxes[${i}][${rois.box[r]}]`);
  }
  return out;
}

/** A checked multi-scale RoIAlign call: sizes, per-level parameters, each RoI's level, the pooling order. @internal */
export interface MultiScalePlan {
  n: number;
  c: number;
  /** RoIs over all images */
  k: number;
  params: RoiAlignParams[];
  rois: AssignedRois;
  /** RoI indices in the order to pool them (see localityOrder) */
  order: Int32Array;
}

/**
 * Checks a {@link multiScaleRoiAlign} call (OperatorInputError before any feature is read) and
 * assigns its RoIs to levels. Shared by the TypeScript and the SIMD poolers; `withData` false
 * checks the levels' shapes only. @internal
 */
export function planMultiScale(levels: readonly LevelFeatures[], boxes: readonly Float32Array[], options: MultiScaleRoiAlignOptions, name = op, withData = true): MultiScalePlan {
  const { n, c, kMin, kMax } = checkLevels(levels, name, withData);
  const params = levels.map((l) => resolveRoiAlignParams(name, options, 1 / l.stride, 2));
  if (!Array.isArray(boxes) || boxes.length > n) {
    throw new OperatorInputError(name, `boxes must be a list of at most N = ${n} Float32Array [Ki, 4] (one per image), got ${Array.isArray(boxes) ? boxes.length : typeof boxes}`);
  }
  let k = 0;
  boxes.forEach((b, i) => {
    if (!(b instanceof Float32Array) || b.length % 4 !== 0) {
      throw new OperatorInputError(name, `boxes[${i}] must be a Float32Array [Ki, 4] x1,y1,x2,y2`);
    }
    for (let j = 0; j < b.length; j += 4) checkCoordinates(name, `boxes[${i}][${j / 4}]`, b, j);
    k += b.length / 4;
  });
  if (k * c > 0) for (const l of levels) checkMapNotEmpty(name, `level '${l.name}'`, l.shape[2], l.shape[3]);
  const mapper = { kMin, kMax, canonicalScale: options.canonicalScale, canonicalLevel: options.canonicalLevel };
  const rois = assignAll(levels.length, boxes, k, mapper);
  return { n, c, k, params, rois, order: localityOrder(rois) };
}

/** Every RoI r in output order (torchvision concatenates the images' boxes): its image, box and level. @internal */
export interface AssignedRois {
  image: Int32Array;
  box: Int32Array;
  /** index into the pooled levels; -1: no level (negative area), the RoI stays zero */
  level: Int32Array;
  /** y band (64 px) and x centre of the box, for {@link localityOrder} */
  band: Float64Array;
  centreX: Float64Array;
}

function assignAll(levelCount: number, boxes: readonly Float32Array[], k: number, mapper: LevelMapperOptions): AssignedRois {
  const rois: AssignedRois = {
    image: new Int32Array(k), box: new Int32Array(k), level: new Int32Array(k), band: new Float64Array(k), centreX: new Float64Array(k),
  };
  let r = 0;
  boxes.forEach((b, i) => {
    // One level: torchvision pools every box from it without the mapper.
    const assigned = levelCount === 1 ? new Int32Array(b.length / 4) : assignLevels(b, mapper);
    for (let j = 0; j < assigned.length; j++, r++) {
      rois.image[r] = i;
      rois.box[r] = j;
      rois.level[r] = assigned[j];
      rois.band[r] = Math.floor((b[4 * j + 1] + b[4 * j + 3]) / 2 / 64);
      rois.centreX[r] = (b[4 * j] + b[4 * j + 2]) / 2;
    }
  });
  return rois;
}

/**
 * The order in which RoIs are pooled (not the output order): by image, level, 64-pixel band of
 * centre y, centre x. Neighbouring RoIs then read feature rows of all C planes that are still in
 * cache: measured 1.2x faster than box order on 1000 RoIs of an 800x1216 pyramid.
 */
function localityOrder(rois: AssignedRois): Int32Array {
  const { image, level, band, centreX } = rois;
  return Int32Array.from({ length: image.length }, (_, r) => r).sort((a, b) =>
    image[a] - image[b] || level[a] - level[b] || band[a] - band[b] || centreX[a] - centreX[b]);
}

/** Checks the declared levels: shapes, equal N and C, power-of-two strides each equal to the previous or double it. */
function checkLevels(levels: readonly LevelFeatures[], op: string, withData: boolean): { n: number; c: number; kMin: number; kMax: number } {
  if (!Array.isArray(levels) || levels.length === 0) throw new OperatorInputError(op, 'levels must be a non-empty list of pyramid levels');
  const first = levels[0];
  let kPrevious = 0;
  levels.forEach((l, i) => {
    // Without data: a copy whose shapes were checked with their data (roiAlignSimd.ts).
    const [n, c] = withData ? checkFeatureShape(op, `level '${l.name}'`, l.data, l.shape) : l.shape;
    if (c !== l.channels || c !== first.channels || n !== first.shape[0]) {
      throw new OperatorInputError(op, `level '${l.name}' has shape [${l.shape.join(', ')}], declared ${l.channels} channels; every level needs N = ${first.shape[0]} and C = ${first.channels}`);
    }
    const k = Math.log2(l.stride);
    if (!Number.isInteger(k) || k < 0) {
      throw new OperatorInputError(op, `level '${l.name}' stride ${l.stride} is not a power of two (>= 1)`);
    }
    // torchvision's LevelMapper indexes the levels by k - kMin: a level repeating the previous
    // stride (MobileNetV3-FPN's '0' and '1') is never pooled from, a jump past doubling would skip one.
    if (i > 0 && k !== kPrevious + 1 && k !== kPrevious) {
      throw new OperatorInputError(op, `level '${l.name}' stride ${l.stride} does not follow the previous level's ${2 ** kPrevious} (levels need strides equal to the previous or double it)`);
    }
    kPrevious = k;
  });
  return { n: first.shape[0], c: first.channels, kMin: Math.log2(first.stride), kMax: kPrevious };
}
