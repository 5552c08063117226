"""End-to-end reference for pyramids other than ResNet-FPN's default five levels
(test/e2e/pyramids.test.ts), torchvision 0.14 with seeded random, calibrated weights:

- "mobilenet": `fasterrcnn_mobilenet_v3_large_fpn` (levels '0', '1' both at stride 32 and 'pool';
  five anchor sizes on each level, 15 anchors per location; RPN score threshold 0.05). Its backbone
  is exported with torch.onnx.export to mobilenet-backbone.onnx (outputs 'feat0', 'feat1', 'pool':
  torch.onnx.export refuses numeric names), and to mobilenet-backbone-unnamed.onnx with the
  exporter's own output names.
- "r50-l234": Mask R-CNN on `resnet_fpn_backbone('resnet50', returned_layers=[2, 3, 4])` (levels
  '0', '1', '2' at strides 8, 16, 32 and 'pool'; three pooled levels) with two anchor sizes per
  level ((32, 48), (64, 96), (128, 192), (256, 384)): 6 anchors per location; its backbone also
  exported to r50-l234-backbone.onnx (outputs 'feat0', 'feat1', 'feat2', 'pool').

argv: <out> <case>. Writes <case>.pth, the images as PNG, torchvision's boxes, scores, labels and
(Mask R-CNN) binary masks (> 0.5) per image, and image0's pyramid (pyramid/<level>, over the padded
input). meta: the builder's settings the converter needs to be told (anchors, sizes).
"""
import copy
import os
import sys

import numpy as np
import torch
from torch import nn
from torchvision.models.detection import MaskRCNN, fasterrcnn_mobilenet_v3_large_fpn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.models.detection.rpn import RPNHead
from torchvision.models.resnet import Bottleneck
from torchvision.ops.misc import FrozenBatchNorm2d

from scenes import scene
from tensor_archive import Archive

NUM_CLASSES = 6
MIN_SIZE, MAX_SIZE = 320, 512
SIZES = {"mobilenet": [(240, 320), (300, 220)], "r50-l234": [(240, 320), (280, 260)]}
R50_ANCHORS = ((32, 48), (64, 96), (128, 192), (256, 384))


def calibrate(model, calib_image, norm_types):
    """Every norm layer gets statistics from the input it really gets, and seeded affine terms."""

    def hook(m, inputs):
        (x,) = inputs
        n = x.shape[1]
        m.running_mean.copy_(x.mean((0, 2, 3)))
        m.running_var.copy_(x.var((0, 2, 3), unbiased=False).clamp_min(1e-3))
        m.weight.copy_(torch.empty(n).uniform_(0.5, 1.5))
        m.bias.copy_(torch.randn(n) * 0.2)

    hooks = [m.register_forward_pre_hook(hook) for m in model.backbone.modules() if isinstance(m, norm_types)]
    images, _ = model.transform([calib_image])
    model.backbone(images.tensors)
    for h in hooks:
        h.remove()


def spread_logits(model):
    """Random heads give near-tied scores otherwise (as detect_cases.py does)."""
    model.rpn.head.cls_logits.weight.mul_(15.0)
    model.rpn.head.bbox_pred.weight.mul_(3.0)
    model.roi_heads.box_predictor.cls_score.weight.mul_(6.0)
    model.roi_heads.box_predictor.bbox_pred.weight.mul_(2.0)
    if hasattr(model.roi_heads, "mask_predictor") and model.roi_heads.mask_predictor is not None:
        model.roi_heads.mask_predictor.mask_fcn_logits.weight.mul_(20.0)


def build_mobilenet(calib_image):
    model = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=NUM_CLASSES, min_size=MIN_SIZE, max_size=MAX_SIZE).eval()
    with torch.no_grad():
        calibrate(model, calib_image, (nn.BatchNorm2d,))
        spread_logits(model)
    return model


def build_r50_l234(calib_image):
    backbone = resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=5, returned_layers=[2, 3, 4])
    anchors = AnchorGenerator(R50_ANCHORS, ((0.5, 1.0, 2.0),) * len(R50_ANCHORS))
    rpn_head = RPNHead(backbone.out_channels, anchors.num_anchors_per_location()[0])
    model = MaskRCNN(backbone, num_classes=NUM_CLASSES, min_size=MIN_SIZE, max_size=MAX_SIZE, rpn_anchor_generator=anchors, rpn_head=rpn_head).eval()
    with torch.no_grad():
        calibrate(model, calib_image, (FrozenBatchNorm2d,))
        # small residual-branch gains, as trained ResNets have (see detect_cases.py)
        for m in model.backbone.body.modules():
            if isinstance(m, Bottleneck):
                m.bn3.weight.mul_(0.2)
                m.bn3.bias.mul_(0.2)
        spread_logits(model)
    return model


class Levels(nn.Module):
    """The backbone with its OrderedDict output as a tuple, for torch.onnx.export."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, images):
        return tuple(self.backbone(images).values())


def main(out, case):
    torch.manual_seed(sum(map(ord, case)))
    a = Archive(out)
    images = []
    for i, (h, w) in enumerate(SIZES[case]):
        im = scene(h, w, seed=300 + i)
        im.save(os.path.join(out, f"image{i}.png"))
        images.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float() / 255)
    model = build_mobilenet(images[0]) if case == "mobilenet" else build_r50_l234(images[0])
    torch.save(model.state_dict(), os.path.join(out, f"{case}.pth"))
    meta = {"arch": "faster" if case == "mobilenet" else "mask", "minSize": MIN_SIZE, "maxSize": MAX_SIZE, "images": len(images), "numClasses": NUM_CLASSES}
    with torch.no_grad():
        batch, _ = model.transform([images[0]])
        features = model.backbone(batch.tensors)
        for name, t in features.items():
            a.put(f"pyramid/{name}", t)
        meta["levels"] = list(features.keys())
        if case == "r50-l234":
            meta["anchorSizes"] = [list(s) for s in R50_ANCHORS]
        for i, img in enumerate(images):
            (res,) = model([img])
            a.put(f"image{i}/boxes", res["boxes"])
            a.put(f"image{i}/scores", res["scores"])
            a.put(f"image{i}/labels", res["labels"])
            if meta["arch"] == "mask":
                a.put(f"image{i}/masks", (res["masks"][:, 0] > 0.5).to(torch.uint8))
        if case == "mobilenet":
            # Exported last, from a copy: after torch 1.13's export had run on the model's own
            # (BatchNorm2d) backbone, the model's detections were seen to change.
            outputs = ["feat0", "feat1", "pool"]
            torch.onnx.export(
                Levels(copy.deepcopy(model.backbone)), batch.tensors, os.path.join(out, "mobilenet-backbone.onnx"), opset_version=17,
                input_names=["images"], output_names=outputs,
                dynamic_axes={"images": {0: "N", 2: "H", 3: "W"}, **{k: {0: "N", 2: f"H_{k}", 3: f"W_{k}"} for k in outputs}},
            )
            # as torch.onnx.export names the outputs when not told ('523', 'onnx::MaxPool_499', ...)
            torch.onnx.export(
                copy.deepcopy(model.backbone), batch.tensors, os.path.join(out, "mobilenet-backbone-unnamed.onnx"), opset_version=17,
                input_names=["images"], dynamic_axes={"images": {0: "N", 2: "H", 3: "W"}},
            )
        else:
            # the same ResNet-FPN as a user's ONNX backbone: four outputs, three of them pooled
            torch.onnx.export(
                copy.deepcopy(model.backbone), batch.tensors, os.path.join(out, "r50-l234-backbone.onnx"), opset_version=17,
                input_names=["images"], output_names=["feat0", "feat1", "feat2", "pool"], dynamic_axes={"images": {0: "N", 2: "H", 3: "W"}},
            )
    a.meta = meta
    a.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
