/**
 * Hyper-parameters as data: one typed config per stage, each with torchvision 0.14's defaults
 * (models/detection/faster_rcnn.py, mask_rcnn.py, transform.py). A model package's resdet.json
 * overrides any field; `resolveConfig` is the one adapter that fills them.
 */

/**
 * How the resize scale is computed. torchvision 0.14 computes `min_size / short_side` in float32,
 * so 427x640 becomes 799x1199; newer releases compute it in double (800x1199).
 */
export type ResizeScaleRule = 'torchvision-0.14' | 'float64';

/** The GeneralizedRCNNTransform stage. */
export interface TransformConfig {
  /** Target size of the short side (torchvision `min_size`). */
  minSize: number;
  /** Cap on the long side (torchvision `max_size`). */
  maxSize: number;
  /** Per-channel RGB mean on [0, 1] pixels. */
  imageMean: [number, number, number];
  /** Per-channel RGB std on [0, 1] pixels. */
  imageStd: [number, number, number];
  /** The batch is zero-padded (after normalisation) to a multiple of this. */
  sizeDivisible: number;
  resizeScaleRule: ResizeScaleRule;
}

/** The region proposal network at test time (torchvision `rpn_*_test`). */
export interface RpnConfig {
  /** Anchor sizes, one tuple per pyramid level. */
  anchorSizes: number[][];
  /** Aspect ratios (h / w), the same for every level. */
  aspectRatios: number[];
  /** Top-k by objectness per level before NMS. */
  preNmsTopN: number;
  /** Proposals kept per image after NMS. */
  postNmsTopN: number;
  nmsThresh: number;
  scoreThresh: number;
  /** Boxes smaller than this (in input pixels) are dropped. */
  minSize: number;
  /** Box coder weights (wx, wy, ww, wh). */
  boxCoderWeights: [number, number, number, number];
}

/** The box branch of RoIHeads. */
export interface RoiHeadsConfig {
  poolerOutputSize: number;
  samplingRatio: number;
  scoreThresh: number;
  nmsThresh: number;
  detectionsPerImage: number;
  /** Box coder weights (wx, wy, ww, wh); torchvision's `bbox_reg_weights` default. */
  boxCoderWeights: [number, number, number, number];
  /** Detections smaller than this are dropped (torchvision's hard-coded 1e-2). */
  minSize: number;
}

/** The mask branch of RoIHeads. */
export interface MaskConfig {
  poolerOutputSize: number;
  samplingRatio: number;
  /** `paste_masks_in_image` padding. */
  pastePadding: number;
}

/** The level mapper of MultiScaleRoIAlign. */
export interface LevelMapperConfig {
  canonicalScale: number;
  canonicalLevel: number;
  eps: number;
}

export interface DetectorConfig {
  transform: TransformConfig;
  rpn: RpnConfig;
  roiHeads: RoiHeadsConfig;
  mask: MaskConfig;
  levelMapper: LevelMapperConfig;
}

/** torchvision 0.14's defaults for fasterrcnn_resnet50_fpn / maskrcnn_resnet50_fpn. */
export const torchvisionDefaults: DetectorConfig = {
  transform: {
    minSize: 800,
    maxSize: 1333,
    imageMean: [0.485, 0.456, 0.406],
    imageStd: [0.229, 0.224, 0.225],
    sizeDivisible: 32,
    resizeScaleRule: 'torchvision-0.14',
  },
  rpn: {
    anchorSizes: [[32], [64], [128], [256], [512]],
    aspectRatios: [0.5, 1.0, 2.0],
    preNmsTopN: 1000,
    postNmsTopN: 1000,
    nmsThresh: 0.7,
    scoreThresh: 0.0,
    minSize: 1e-3,
    boxCoderWeights: [1, 1, 1, 1],
  },
  roiHeads: {
    poolerOutputSize: 7,
    samplingRatio: 2,
    scoreThresh: 0.05,
    nmsThresh: 0.5,
    detectionsPerImage: 100,
    boxCoderWeights: [10, 10, 5, 5],
    minSize: 1e-2,
  },
  mask: { poolerOutputSize: 14, samplingRatio: 2, pastePadding: 1 },
  levelMapper: { canonicalScale: 224, canonicalLevel: 4, eps: 1e-6 },
};

/** A partial override per stage, as a resdet.json holds it. */
export type DetectorConfigOverrides = { [K in keyof DetectorConfig]?: Partial<DetectorConfig[K]> };

/** Fills every stage's config from torchvision's defaults and the given overrides. */
export function resolveConfig(overrides: DetectorConfigOverrides = {}): DetectorConfig {
  return {
    transform: { ...torchvisionDefaults.transform, ...overrides.transform },
    rpn: { ...torchvisionDefaults.rpn, ...overrides.rpn },
    roiHeads: { ...torchvisionDefaults.roiHeads, ...overrides.roiHeads },
    mask: { ...torchvisionDefaults.mask, ...overrides.mask },
    levelMapper: { ...torchvisionDefaults.levelMapper, ...overrides.levelMapper },
  };
}
