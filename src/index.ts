/**
 * resdet for Node: `loadModel(packageDirOrName, { provider, threads })` -> a detector whose
 * `detect(image, options)` returns boxes, scores, labels, class names and masks equal to
 * torchvision's (`./load.ts`). Also exports the converter, the model-package reader and the error classes.
 */
export { bundledModelsDir, loadModel, resolveModelPath } from './load.js';
export type { Detector } from './detector/index.js';
export * from './detector/result.js';
export { DetectOptionsError, fullImageMask, GpuMasksDisposedError, ModelReleasedError } from './detector/index.js';
export { ImageDecodeError, type ImageInput, type RawPixels, type JimpLike } from './image/index.js';
export { ModelPackageError, readModelPackage, type Manifest, type Precision } from './modelPackage/index.js';
export { CheckpointError } from './checkpoint/index.js';
export { ResdetError } from '../postprocess/errors.js';
export { convertCheckpoint, type ConvertOptions, type ConvertSummary } from './convert/index.js';
export { quantizePackage, type QuantizeOptions, type QuantizeSummary } from './quantize/index.js';
export { ProviderUnavailableError, type Provider, RuntimeOptionsError, type RuntimeOptions } from './runtime/index.js';
export { resolveConfig, torchvisionDefaults, type DetectorConfig } from './config.js';
export { DownloadError } from './download/errors.js';
export { resdetCacheDir } from './download/cacheDir.js';
export type { DownloadProgress, LoadModelOptions } from './modelPackage/remote.js';
export {
  CocoFormatError, evaluateCoco, categoryIdsByName, toCocoResults,
  type CocoDataset, type CocoDetection, type CocoEvalParams, type CocoEvalResult,
} from './eval/index.js';
