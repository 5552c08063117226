/**
 * `resdet convert --preset <builder>`: the hyper-parameters torchvision 0.14's detection builders
 * pass to `FasterRCNN` / `MaskRCNN` besides the weights. A checkpoint holds none of them (the RPN
 * head's shape gives only the anchors per location), so a model built by anything but the default
 * builder needs them said. Read from models/detection/faster_rcnn.py and mask_rcnn.py.
 */
import type { DetectorConfigOverrides } from '../config.js';
import { ModelPackageError } from '../modelPackage/index.js';

/** One builder's settings: what it passes on top of `FasterRCNN`'s defaults. */
export interface Preset {
  /** What the builder builds, for messages and the package's provenance. */
  description: string;
  /** The overrides, in resdet.json's vocabulary. */
  config: DetectorConfigOverrides;
}

/** `_fasterrcnn_mobilenet_v3_large_fpn`: five sizes on each of the three levels, three ratios (15 anchors per location). */
const mobilenetAnchors = {
  anchorSizes: [[32, 64, 128, 256, 512], [32, 64, 128, 256, 512], [32, 64, 128, 256, 512]],
  aspectRatios: [0.5, 1.0, 2.0],
};

/** torchvision 0.14's detection builders by name. */
export const presets: Readonly<Record<string, Preset>> = {
  fasterrcnn_resnet50_fpn: { description: 'Faster R-CNN ResNet-50-FPN (torchvision defaults)', config: {} },
  fasterrcnn_resnet50_fpn_v2: { description: 'Faster R-CNN ResNet-50-FPN v2 (torchvision defaults)', config: {} },
  maskrcnn_resnet50_fpn: { description: 'Mask R-CNN ResNet-50-FPN (torchvision defaults)', config: {} },
  maskrcnn_resnet50_fpn_v2: { description: 'Mask R-CNN ResNet-50-FPN v2 (torchvision defaults)', config: {} },
  // defaults = {"rpn_score_thresh": 0.05}
  fasterrcnn_mobilenet_v3_large_fpn: {
    description: 'Faster R-CNN MobileNetV3-Large-FPN',
    config: { rpn: { ...mobilenetAnchors, scoreThresh: 0.05 } },
  },
  // defaults = {"min_size": 320, "max_size": 640, "rpn_pre_nms_top_n_test": 150,
  //             "rpn_post_nms_top_n_test": 150, "rpn_score_thresh": 0.05}
  fasterrcnn_mobilenet_v3_large_320_fpn: {
    description: 'Faster R-CNN MobileNetV3-Large-FPN for 320-pixel images',
    config: { transform: { minSize: 320, maxSize: 640 }, rpn: { ...mobilenetAnchors, preNmsTopN: 150, postNmsTopN: 150, scoreThresh: 0.05 } },
  },
};

/**
 * The preset called `name`.
 * @param where what to name in the error (the checkpoint)
 * @throws ModelPackageError listing the known builders
 */
export function presetByName(name: string, where: string): Preset {
  const preset = Object.hasOwn(presets, name) ? presets[name] : undefined;
  if (!preset) throw new ModelPackageError(where, `--preset '${name}' is not a torchvision detection builder resdet knows (${Object.keys(presets).join(', ')})`);
  return preset;
}

/** Stage-wise merge: `over`'s fields win, stage by stage. */
export function mergeConfig(base: DetectorConfigOverrides, over: DetectorConfigOverrides | undefined): DetectorConfigOverrides {
  const out: Record<string, object> = {};
  for (const stage of new Set([...Object.keys(base), ...Object.keys(over ?? {})])) {
    const merged = { ...(base as Record<string, object>)[stage], ...(over as Record<string, object> | undefined)?.[stage] };
    if (Object.keys(merged).length > 0) out[stage] = merged;
  }
  return out as DetectorConfigOverrides;
}
