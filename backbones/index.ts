/**
 * Backbones: ONNX models that turn normalized images into a feature pyramid, with the pyramid's
 * declaration (level names, strides, channels). Exports the contract, torchvision's ResNet-FPN
 * built from a state dict, and the registry that resolves a backbone by name. Imports only the
 * shared ONNX leaf ../onnx (and ../postprocess/errors).
 */
export {
  type Backbone, type FeaturePyramid, type PyramidLevel, BackboneError, torchvisionFpnLevels, validateLevels,
} from './backbone.js';
export { type ResNetFpnBackbone, type ResNetFpnOptions, buildResNetFpn, describe as describeResNetLayout } from './resnetFpn.js';
export { type ResNetBlock, type ResNetDescription, describeResNet, resnetArchs } from './resnet.js';
export {
  BATCH_NORM_EPS, type FoldedConv, type NormLayer, foldFrozenBatchNorm, frozenBatchNormScale, normEpsAt, normLayerAt, scaledWeight,
} from './frozenBatchNorm.js';
export { type ConvNormKeys, convNorm, hasNorm } from './convNorm.js';
export { BackboneWeights, StateDictError, findBackbonePrefix, fpnKeys } from './keys.js';
export {
  type BackboneBuildOptions, type BackboneFactory, type BackboneLoader, type OnnxBackboneOptions, BackboneRegistry, createBackboneRegistry,
  onnxBackbone,
} from './registry.js';
