/**
 * The public operators of resdet/postprocess, each accepting ndarray views beside flat typed
 * arrays (see ndarray.ts for how a view is read). A typed-array argument goes straight to the flat
 * operator of its own module (nms.ts, roiAlign.ts, ...) after one `instanceof`; a view is checked
 * against the shape below, used in place when contiguous row-major, gathered once otherwise.
 * Results are the flat operators' typed arrays; `toNdarray(result, shape)` views them as ndarray.
 *
 * Glossary: N boxes (or images, for feature maps); C channels, H x W a map; K RoIs or classes;
 * D masks of M x M; PH x PW pooled size.
 */
import { boxArea as boxAreaFlat, boxIou as boxIouFlat, clipBoxesToImage as clipFlat, removeSmallBoxes as removeSmallFlat, type ImageSize } from './boxes.js';
import { decodeBoxes as decodeFlat, encodeBoxes as encodeFlat, type BoxCoderWeights } from './boxCoder.js';
import { OperatorInputError } from './errors.js';
import {
  assignLevels as assignLevelsFlat, multiScaleRoiAlign as multiScaleFlat,
  type LevelFeatures, type LevelMapperOptions, type MultiScaleRoiAlignOptions,
} from './multiScaleRoiAlign.js';
import {
  type Float32ArrayOrView, type Int32ArrayOrView, type NdarrayView, type ShapePattern, type Uint8ArrayOrView,
  isNdarrayView, viewElements,
} from './ndarray.js';
import { batchedNms as batchedNmsFlat, nms as nmsFlat } from './nms.js';
import {
  pasteBinaryMasksInImage as pasteBinaryFlat, pasteMasksInImage as pasteFlat,
  type PasteBinaryMasksOptions, type PasteMasksOptions,
} from './pasteMasks.js';
import { rleEncode as rleEncodeFlat, type Rle } from './rle.js';
import { roiAlign as roiAlignFlat, type Nchw, type RoiAlignOptions } from './roiAlign.js';

const BOXES: readonly ShapePattern[] = [['N', 4]];
const PER_CLASS_BOXES: readonly ShapePattern[] = [['N', 4], ['N', 'K', 4]];
const VECTOR: readonly ShapePattern[] = [['N']];
const ROIS: readonly ShapePattern[] = [['K', 5]];
const MASKS: readonly ShapePattern[] = [['D', 'M', 'M']];
const FEATURES: readonly ShapePattern[] = [['N', 'C', 'H', 'W'], ['C', 'H', 'W']];
const BINARY_MASK: readonly ShapePattern[] = [['H', 'W']];

/** A Float32Array argument as is; a view checked against `patterns` and made row-major. */
function floats(op: string, name: string, x: Float32ArrayOrView, patterns: readonly ShapePattern[], what?: string): Float32Array {
  if (x instanceof Float32Array || !isNdarrayView(x)) return x as Float32Array;
  return viewElements(op, name, x, Float32Array, patterns, what).data;
}

/** A feature map view [N, C, H, W] (or [C, H, W], N = 1) as a row-major array and its shape. */
function features(op: string, name: string, x: NdarrayView<Float32Array>): { data: Float32Array; shape: Nchw } {
  const { data, shape } = viewElements(op, name, x, Float32Array, FEATURES, 'feature maps');
  const [n, c, h, w] = shape.length === 3 ? [1, ...shape] : shape;
  return { data, shape: [n, c, h, w] };
}

/**
 * Non-maximum suppression, as `torchvision.ops.nms` on CPU (see nms.ts).
 * @param boxes [N, 4] x1,y1,x2,y2: Float32Array, or ndarray view over one
 * @param scores [N]: Float32Array, or ndarray view over one
 * @param iouThreshold boxes with IoU > iouThreshold with a higher-scoring kept box are discarded
 * @returns Int32Array [K] kept indices, by decreasing score (ties in torch's order)
 */
export function nms(boxes: Float32ArrayOrView, scores: Float32ArrayOrView, iouThreshold: number): Int32Array {
  const op = 'nms';
  return nmsFlat(floats(op, 'boxes', boxes, BOXES, 'x1,y1,x2,y2'), floats(op, 'scores', scores, VECTOR), iouThreshold);
}

/**
 * NMS independently per category, as `torchvision.ops.batched_nms` on CPU (see nms.ts).
 * @param boxes [N, 4] x1,y1,x2,y2: Float32Array, or ndarray view over one
 * @param scores [N]: Float32Array, or ndarray view over one
 * @param idxs [N] category of each box: Int32Array, or ndarray view over one
 * @param iouThreshold IoU above which a lower-scoring box of the same category is discarded
 * @param limit only the first `limit` indices are wanted (torchvision's `keep[:limit]`): the same
 *   indices, with less work where the scores allow
 * @returns Int32Array [K] kept indices, by decreasing score (ties in torch's order)
 */
export function batchedNms(boxes: Float32ArrayOrView, scores: Float32ArrayOrView, idxs: Int32ArrayOrView, iouThreshold: number, limit?: number): Int32Array {
  const op = 'batchedNms';
  const categories = idxs instanceof Int32Array || !isNdarrayView(idxs) ? idxs as Int32Array : viewElements(op, 'idxs', idxs, Int32Array, VECTOR).data;
  return batchedNmsFlat(floats(op, 'boxes', boxes, BOXES, 'x1,y1,x2,y2'), floats(op, 'scores', scores, VECTOR), categories, iouThreshold, limit);
}

/**
 * RoIAlign with average pooling, as `torchvision.ops.roi_align` on CPU (see roiAlign.ts).
 * Either a flat Float32Array [N, C, H, W] with its shape, or an ndarray view [N, C, H, W] (or
 * [C, H, W], one image) that carries its shape.
 * @param input Float32Array [N, C, H, W] feature maps
 * @param inputShape [N, C, H, W]
 * @param rois [K, 5] (batch index, x1, y1, x2, y2) in image coordinates: Float32Array, or ndarray view over one
 * @param options outputSize [PH, PW], spatialScale (1), samplingRatio (-1: adaptive), aligned (false)
 * @returns Float32Array [K, C, PH, PW]
 */
export function roiAlign(input: Float32Array, inputShape: Nchw, rois: Float32ArrayOrView, options: RoiAlignOptions): Float32Array;
/**
 * @param input ndarray view [N, C, H, W] or [C, H, W] over a Float32Array
 * @param rois [K, 5] (batch index, x1, y1, x2, y2): Float32Array, or ndarray view over one
 * @param options outputSize [PH, PW], spatialScale (1), samplingRatio (-1: adaptive), aligned (false)
 * @returns Float32Array [K, C, PH, PW]
 */
export function roiAlign(input: NdarrayView<Float32Array>, rois: Float32ArrayOrView, options: RoiAlignOptions): Float32Array;
export function roiAlign(
  input: Float32Array | NdarrayView<Float32Array>, second: Nchw | Float32ArrayOrView, third: Float32ArrayOrView | RoiAlignOptions, fourth?: RoiAlignOptions,
): Float32Array {
  const op = 'roiAlign';
  if (input instanceof Float32Array || !isNdarrayView(input)) {
    return roiAlignFlat(input as Float32Array, second as Nchw, floats(op, 'rois', third as Float32ArrayOrView, ROIS), fourth as RoiAlignOptions);
  }
  if (Array.isArray(second)) {
    throw new OperatorInputError(op, 'input is an ndarray view, which carries its shape: call roiAlign(input, rois, options) without inputShape');
  }
  const map = features(op, 'input', input);
  return roiAlignFlat(map.data, map.shape, floats(op, 'rois', second as Float32ArrayOrView, ROIS), third as RoiAlignOptions);
}

/** A pyramid level whose data is an ndarray view [N, C, H, W] (or [C, H, W]) carrying its shape. */
export interface LevelFeaturesView {
  /** Level name, e.g. '0' or 'p2'; used in error messages. */
  name: string;
  /** Feature stride in input pixels, a power of two; the spatial scale is 1 / stride. */
  stride: number;
  /** Declared channel count; must equal the view's C and every other level's. */
  channels: number;
  /** ndarray view [N, C, H, W] or [C, H, W] over a Float32Array. */
  data: NdarrayView<Float32Array>;
}

/**
 * Multi-scale RoIAlign, as torchvision's `MultiScaleRoIAlign` on CPU (see multiScaleRoiAlign.ts).
 * @param levels the pooled pyramid levels, by increasing stride; each either flat (Float32Array
 *   [N, C, Hl, Wl] with its shape) or an ndarray view [N, C, Hl, Wl] / [C, Hl, Wl]
 * @param boxes per image i < N, [Ki, 4] x1,y1,x2,y2: Float32Array, or ndarray view over one
 * @param options outputSize [PH, PW], samplingRatio (2), aligned (false), canonicalScale (224), canonicalLevel (4)
 * @returns Float32Array [K, C, PH, PW], K = sum Ki, in the order of the boxes
 */
export function multiScaleRoiAlign(
  levels: readonly (LevelFeatures | LevelFeaturesView)[], boxes: readonly Float32ArrayOrView[], options: MultiScaleRoiAlignOptions,
): Float32Array {
  const op = 'multiScaleRoiAlign';
  const flatLevels = Array.isArray(levels) && levels.some((l) => isNdarrayView(l?.data))
    ? levels.map((l, i): LevelFeatures => {
      if (!isNdarrayView(l.data)) return l as LevelFeatures;
      const map = features(op, `levels[${i}] ('${l.name}').data`, l.data as NdarrayView<Float32Array>);
      return { name: l.name, stride: l.stride, channels: l.channels, data: map.data, shape: map.shape };
    })
    : levels as readonly LevelFeatures[];
  const flatBoxes = Array.isArray(boxes) && boxes.some((b) => !(b instanceof Float32Array) && isNdarrayView(b))
    ? boxes.map((b, i) => floats(op, `boxes[${i}]`, b, BOXES, 'x1,y1,x2,y2'))
    : boxes as readonly Float32Array[];
  return multiScaleFlat(flatLevels, flatBoxes, options);
}

/**
 * For each box, the index (0 .. kMax - kMin) of the pyramid level it is pooled from, as
 * torchvision's `LevelMapper` (see multiScaleRoiAlign.ts).
 * @param boxes [K, 4] x1,y1,x2,y2: Float32Array, or ndarray view over one
 * @returns Int32Array [K]; -1 where the area is negative or NaN
 */
export function assignLevels(boxes: Float32ArrayOrView, options: LevelMapperOptions): Int32Array {
  return assignLevelsFlat(floats('assignLevels', 'boxes', boxes, BOXES, 'x1,y1,x2,y2'), options);
}

/**
 * Pastes mask probabilities into the image, as torchvision 0.14's `paste_masks_in_image`
 * (see pasteMasks.ts).
 * @param masks [D, M, M] probabilities: Float32Array, or ndarray view over one
 * @param boxes [D, 4] x1,y1,x2,y2 in image pixels: Float32Array, or ndarray view over one
 * @param imageHeight H, the original image height
 * @param imageWidth W, the original image width
 * @returns Float32Array [D, H, W] probabilities
 */
export function pasteMasksInImage(
  masks: Float32ArrayOrView, boxes: Float32ArrayOrView, imageHeight: number, imageWidth: number, options?: PasteMasksOptions,
): Float32Array {
  const op = 'pasteMasksInImage';
  return pasteFlat(floats(op, 'masks', masks, MASKS, 'probabilities'), floats(op, 'boxes', boxes, BOXES, 'x1,y1,x2,y2'), imageHeight, imageWidth, options);
}

/**
 * {@link pasteMasksInImage} followed by a threshold, straight into a binary mask (see pasteMasks.ts).
 * @param masks [D, M, M] probabilities: Float32Array, or ndarray view over one
 * @param boxes [D, 4] x1,y1,x2,y2 in image pixels: Float32Array, or ndarray view over one
 * @param imageHeight H
 * @param imageWidth W
 * @returns Uint8Array [D, H, W] of 0 and 1
 */
export function pasteBinaryMasksInImage(
  masks: Float32ArrayOrView, boxes: Float32ArrayOrView, imageHeight: number, imageWidth: number, options?: PasteBinaryMasksOptions,
): Uint8Array {
  const op = 'pasteBinaryMasksInImage';
  return pasteBinaryFlat(floats(op, 'masks', masks, MASKS, 'probabilities'), floats(op, 'boxes', boxes, BOXES, 'x1,y1,x2,y2'), imageHeight, imageWidth, options);
}

/**
 * Run-length encodes a binary mask, as pycocotools' maskApi.c rleEncode (see rle.ts).
 * @param mask Uint8Array [H, W] row-major, 0 = background
 * @returns the COCO RLE
 */
export function rleEncode(mask: Uint8Array, height: number, width: number): Rle;
/**
 * @param mask ndarray view [H, W] over a Uint8Array, 0 = background (e.g. `masks.pick(i)` of [D, H, W])
 * @returns the COCO RLE
 */
export function rleEncode(mask: NdarrayView<Uint8Array>): Rle;
export function rleEncode(mask: Uint8ArrayOrView, height?: number, width?: number): Rle {
  if (mask instanceof Uint8Array || !isNdarrayView(mask)) return rleEncodeFlat(mask as Uint8Array, height as number, width as number);
  const { data, shape } = viewElements('rleEncode', 'mask', mask, Uint8Array, BINARY_MASK, 'binary mask');
  return rleEncodeFlat(data, shape[0], shape[1]);
}

/**
 * Clips boxes to an image, as torchvision's `clip_boxes_to_image` (see boxes.ts).
 * @param boxes [N, 4] or per class [N, K*4] x1,y1,x2,y2: Float32Array, or ndarray view [N, 4] or [N, K, 4] over one
 * @returns Float32Array of the same number of elements, row-major
 */
export function clipBoxesToImage(boxes: Float32ArrayOrView, imageSize: ImageSize): Float32Array {
  return clipFlat(floats('clipBoxesToImage', 'boxes', boxes, PER_CLASS_BOXES, 'x1,y1,x2,y2'), imageSize);
}

/**
 * Indices of boxes whose sides are both >= minSize, as torchvision's `remove_small_boxes`.
 * @param boxes [N, 4] x1,y1,x2,y2: Float32Array, or ndarray view over one
 * @returns Int32Array [K] kept indices, increasing
 */
export function removeSmallBoxes(boxes: Float32ArrayOrView, minSize: number): Int32Array {
  return removeSmallFlat(floats('removeSmallBoxes', 'boxes', boxes, BOXES, 'x1,y1,x2,y2'), minSize);
}

/**
 * Box areas, as torchvision's `box_area`.
 * @param boxes [N, 4] x1,y1,x2,y2: Float32Array, or ndarray view over one
 * @returns Float32Array [N]
 */
export function boxArea(boxes: Float32ArrayOrView): Float32Array {
  return boxAreaFlat(floats('boxArea', 'boxes', boxes, BOXES, 'x1,y1,x2,y2'));
}

/**
 * Pairwise IoU, as torchvision's `box_iou`.
 * @param boxes1 [N, 4] x1,y1,x2,y2: Float32Array, or ndarray view over one
 * @param boxes2 [M, 4] x1,y1,x2,y2: Float32Array, or ndarray view over one
 * @returns Float32Array [N, M]
 */
export function boxIou(boxes1: Float32ArrayOrView, boxes2: Float32ArrayOrView): Float32Array {
  return boxIouFlat(floats('boxIou', 'boxes1', boxes1, BOXES, 'x1,y1,x2,y2'), floats('boxIou', 'boxes2', boxes2, BOXES, 'x1,y1,x2,y2'));
}

/**
 * Decodes regression deltas against reference boxes, as `BoxCoder.decode_single` (see boxCoder.ts).
 * @param relCodes [N, K*4] deltas (dx, dy, dw, dh) per class: Float32Array, or ndarray view [N, 4] or [N, K, 4] over one
 * @param boxes [N, 4] reference boxes x1,y1,x2,y2: Float32Array, or ndarray view over one
 * @returns Float32Array [N, K*4] decoded boxes x1,y1,x2,y2
 */
export function decodeBoxes(relCodes: Float32ArrayOrView, boxes: Float32ArrayOrView, weights: BoxCoderWeights, bboxXformClip?: number): Float32Array {
  const op = 'decodeBoxes';
  return decodeFlat(floats(op, 'relCodes', relCodes, PER_CLASS_BOXES, 'dx,dy,dw,dh'), floats(op, 'boxes', boxes, BOXES, 'x1,y1,x2,y2'), weights, bboxXformClip);
}

/**
 * Encodes reference boxes as regression deltas against proposals, as `BoxCoder.encode_single`.
 * @param referenceBoxes [N, 4] x1,y1,x2,y2: Float32Array, or ndarray view over one
 * @param proposals [N, 4] x1,y1,x2,y2: Float32Array, or ndarray view over one
 * @returns Float32Array [N, 4] deltas (dx, dy, dw, dh)
 */
export function encodeBoxes(referenceBoxes: Float32ArrayOrView, proposals: Float32ArrayOrView, weights: BoxCoderWeights): Float32Array {
  const op = 'encodeBoxes';
  return encodeFlat(floats(op, 'referenceBoxes', referenceBoxes, BOXES, 'x1,y1,x2,y2'), floats(op, 'proposals', proposals, BOXES, 'x1,y1,x2,y2'), weights);
}
