/**
 * Hyper-parameters as data: one typed config per stage, each with torchvision 0.14's defaults
 * (models/detection/faster_rcnn.py, mask_rcnn.py, transform.py). A model package's resdet.json
 * overrides any field; `resolveConfig` is the one adapter that fills them.
 */
import {
  type LevelMapperConfig, type MaskConfig, type RoiHeadsConfig, type RpnConfig,
  levelMapperDefaults, maskDefaults, roiHeadsDefaults, rpnDefaults,
} from '../heads/config.js';

export type { LevelMapperConfig, MaskConfig, RoiHeadsConfig, RpnConfig };


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
  rpn: rpnDefaults,
  roiHeads: roiHeadsDefaults,
  mask: maskDefaults,
  levelMapper: levelMapperDefaults,
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
