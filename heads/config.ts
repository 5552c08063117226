/**
 * Hyper-parameters of the heads, one typed config per stage with torchvision 0.14's defaults
 * (models/detection/faster_rcnn.py, mask_rcnn.py, ops/poolers.py).
 */

/** The region proposal network at test time (torchvision `rpn_*_test`). */
export interface RpnConfig {
  /**
   * Anchor sizes, one tuple per pyramid level (torchvision's `AnchorGenerator(sizes)`): the FPN
   * builders give one size per level, `fasterrcnn_mobilenet_v3_large_fpn` five on each of its three.
   */
  anchorSizes: number[][];
  /** Aspect ratios (h / w), the same for every level (every torchvision builder's choice). */
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

/**
 * Anchors per location of each level, as `AnchorGenerator.num_anchors_per_location`: sizes x
 * aspect ratios. The RPN head is one network shared by every level, so all must be equal to its
 * `cls_logits` output channels.
 */
export function anchorsPerLocation(cfg: Pick<RpnConfig, 'anchorSizes' | 'aspectRatios'>): number[] {
  return cfg.anchorSizes.map((sizes) => sizes.length * cfg.aspectRatios.length);
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

/** The poolers' levels and the level mapper of MultiScaleRoIAlign. */
export interface LevelMapperConfig {
  /** Pyramid levels the poolers read (torchvision's featmap_names); the RPN also sees the others. */
  featureNames: string[];
  canonicalScale: number;
  canonicalLevel: number;
  eps: number;
}

/** torchvision 0.14's defaults for the heads of fasterrcnn_resnet50_fpn / maskrcnn_resnet50_fpn. */
export const rpnDefaults: RpnConfig = {
  anchorSizes: [[32], [64], [128], [256], [512]],
  aspectRatios: [0.5, 1.0, 2.0],
  preNmsTopN: 1000,
  postNmsTopN: 1000,
  nmsThresh: 0.7,
  scoreThresh: 0.0,
  minSize: 1e-3,
  boxCoderWeights: [1, 1, 1, 1],
};

export const roiHeadsDefaults: RoiHeadsConfig = {
  poolerOutputSize: 7,
  samplingRatio: 2,
  scoreThresh: 0.05,
  nmsThresh: 0.5,
  detectionsPerImage: 100,
  boxCoderWeights: [10, 10, 5, 5],
  minSize: 1e-2,
};

export const maskDefaults: MaskConfig = { poolerOutputSize: 14, samplingRatio: 2, pastePadding: 1 };

export const levelMapperDefaults: LevelMapperConfig = { featureNames: ['0', '1', '2', '3'], canonicalScale: 224, canonicalLevel: 4, eps: 1e-6 };
