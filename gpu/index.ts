/**
 * GPU operators as ONNX graphs built in TypeScript, each held equal to its CPU reference in
 * postprocess/ by tests (test/gpu/): they run on onnxruntime's WebGPU provider in Node and in
 * browsers (ops the provider places on the GPU: GridSample, AveragePool, TopK, Gather, MatMul,
 * comparisons) and on CUDA (RoiAlign-10, NonMaxSuppression). Imports onnx/ only, and no
 * runtime: the detector (src/detector/operators.ts) creates the sessions.
 * Exports: the RoIAlign, multi-scale pooler, head re-targeting, RPN top-k, NMS, mask paste and
 * download graphs, and float16 compute (`toFloat16Compute`, with its `shader-f16` probe).
 */
export { addGridRoiAlign, checkGridRoiAlignOptions, type GridRoiAlignOptions } from './roiAlign.js';
export { buildGridMultiScaleRoiAlign, type GridPoolerSpec } from './multiScaleRoiAlign.js';
export { CUDA_HEAD_OPSET, type PoolingTarget, retargetHeadPooling } from './headPooling.js';
export { buildRpnTopK, rpnTopKOutputs } from './rpnTopK.js';
export { inlineSubgraph } from './inline.js';
export { buildDownload, buildMaskDownload, type MaskDownloadType } from './download.js';
export { buildNmsMask, buildNonMaxSuppression, MASK_WORD_BITS, scanSuppressionMask, scoreOrder, sortedPaddedBoxes } from './nms.js';
export { type Float16ComputeOptions, type Float16ComputeReport, KEEP_FLOAT32, predictorLayers, toFloat16Compute, valueTypes } from './float16Compute.js';
export { buildFloat16Probe } from './float16Probe.js';
export { buildPasteMasks, type GpuMaskForm, type GpuPasteSpec, pasteMasksIo } from './pasteMasks.js';
