/**
 * The operators over flat typed arrays only: what resdet's own pipeline (heads/, src/) imports.
 * `index.ts` exports the same operators widened to ndarray views; importing them from here keeps
 * ndarray and ndarray-ops (which compile code with `new Function`, refused by a strict CSP) out
 * of the detector and the browser bundle.
 */
export { OperatorInputError, ResdetError } from './errors.js';
export { decodeBoxes, encodeBoxes } from './boxCoder.js';
export { boxArea, boxIou, clipBoxesToImage, removeSmallBoxes } from './boxes.js';
export { generateAnchors } from './anchors.js';
export { batchedNms, type BatchedNmsPlan, nms, type NmsProblem, planBatchedNms } from './nms.js';
export { topK } from './topk.js';
export { assignLevels, type LevelFeatures, multiScaleRoiAlign } from './multiScaleRoiAlign.js';
export { PoolerMemoryError, SimdRoiAlign } from './roiAlignSimd.js';
export {
  pasteBinaryMasksInBoxes, pasteBinaryMasksInImage, pasteMasksInBoxes, pasteMasksInImage, type MaskWindow,
} from './pasteMasks.js';
export {
  rleArea, rleDecode, rleEncode, rleEncodeWindow, rleFrPoly, rleFrString, rleIou, rleMerge, rleToBbox, rleToString,
  type Rle,
} from './rle.js';
