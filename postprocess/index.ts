/**
 * resdet/postprocess: the detection operators as pure functions over typed arrays, equal to
 * torchvision 0.14 on CPU. Imports nothing else of ours and no runtime.
 *
 * The operators that take boxes, scores, feature maps or masks accept an ndarray view (scijs
 * `ndarray`, any strides and offset) wherever they accept a flat typed array
 * (ndarrayOperators.ts); `toNdarray(result, shape)` views a flat result as an ndarray (ndarray.ts).
 */
export { OperatorInputError, ResdetError } from './errors.js';
// ndarray views in (checked shapes, gathered once when not row-major) and out (toNdarray).
export {
  toNdarray, type Float32ArrayOrView, type Int32ArrayOrView, type NdarrayView, type OperatorResultArray, type Uint8ArrayOrView,
} from './ndarray.js';
// Box coder, box utilities, anchors, NMS (torchvision _utils.BoxCoder, ops/boxes.py, AnchorGenerator).
export { BBOX_XFORM_CLIP, type BoxCoderWeights } from './boxCoder.js';
export { type ImageSize } from './boxes.js';
export {
  anchorStrides, cellAnchors, generateAnchors, gridAnchors, numAnchorsPerLocation,
  type AnchorGeneratorConfig, type HeightWidth,
} from './anchors.js';
// Top-k selection (torch.topk) for the RPN's per-level pre-NMS selection.
export { topK } from './topk.js';
// Mask pasting (torchvision roi_heads.paste_masks_in_image) and COCO RLE (pycocotools maskApi.c).
export { expandBoxesToInt, pasteMasksDefaults, type PasteBinaryMasksOptions, type PasteMasksOptions } from './pasteMasks.js';
export {
  compressRle, decompressRle, rleArea, rleDecode, rleFrPoly, rleFrString, rleIou, rleMerge,
  rleToBbox, rleToString, type CompressedRle, type Rle, type XywhBox,
} from './rle.js';
// RoIAlign and MultiScaleRoIAlign (torchvision ops/roi_align.py + CPU kernel, ops/poolers.py).
export { type Nchw, type RoiAlignOptions } from './roiAlign.js';
export { type LevelMapperOptions, type LevelFeatures, type MultiScaleRoiAlignOptions } from './multiScaleRoiAlign.js';
// The same multi-scale RoIAlign in WebAssembly SIMD, channels-last (a pooler with its own memory).
export { PoolerMemoryError, SimdRoiAlign } from './roiAlignSimd.js';
// The operators on boxes, scores, feature maps and masks, each taking typed arrays or ndarray views.
export {
  assignLevels, batchedNms, boxArea, boxIou, clipBoxesToImage, decodeBoxes, encodeBoxes, multiScaleRoiAlign, nms,
  pasteBinaryMasksInImage, pasteMasksInImage, removeSmallBoxes, rleEncode, roiAlign, type LevelFeaturesView,
} from './ndarrayOperators.js';
// Pasting into per-box windows (memory follows the objects) and RLE-encoding such a window.
export { pasteBinaryMasksInBoxes, pasteMasksInBoxes, type MaskWindow } from './pasteMasks.js';
export { rleEncodeWindow } from './rle.js';
