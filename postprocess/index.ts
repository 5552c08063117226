/**
 * resdet/postprocess: the detection operators as pure functions over typed arrays, equal to
 * torchvision 0.14 on CPU. Imports nothing else of ours and no runtime.
 */
export { OperatorInputError, ResdetError } from './errors.js';
// Box coder, box utilities, anchors, NMS (torchvision _utils.BoxCoder, ops/boxes.py, AnchorGenerator).
export { BBOX_XFORM_CLIP, decodeBoxes, encodeBoxes, type BoxCoderWeights } from './boxCoder.js';
export { boxArea, boxIou, clipBoxesToImage, removeSmallBoxes, type ImageSize } from './boxes.js';
export {
  anchorStrides, cellAnchors, generateAnchors, gridAnchors, numAnchorsPerLocation,
  type AnchorGeneratorConfig, type HeightWidth,
} from './anchors.js';
export { batchedNms, nms } from './nms.js';
// Top-k selection (torch.topk) for the RPN's per-level pre-NMS selection.
export { topK } from './topk.js';
// Mask pasting (torchvision roi_heads.paste_masks_in_image) and COCO RLE (pycocotools maskApi.c).
export {
  expandBoxesToInt, pasteBinaryMasksInImage, pasteMasksDefaults, pasteMasksInImage,
  type PasteBinaryMasksOptions, type PasteMasksOptions,
} from './pasteMasks.js';
export {
  compressRle, decompressRle, rleArea, rleDecode, rleEncode, rleFrPoly, rleFrString, rleIou, rleMerge,
  rleToBbox, rleToString, type CompressedRle, type Rle, type XywhBox,
} from './rle.js';
// RoIAlign and MultiScaleRoIAlign (torchvision ops/roi_align.py + CPU kernel, ops/poolers.py).
export { roiAlign, type Nchw, type RoiAlignOptions } from './roiAlign.js';
export {
  assignLevels, multiScaleRoiAlign,
  type LevelMapperOptions, type LevelFeatures, type MultiScaleRoiAlignOptions,
} from './multiScaleRoiAlign.js';
