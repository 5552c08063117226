"""End-to-end reference: torchvision 0.14 Faster / Mask R-CNN on seeded random checkpoints and
synthetic photos (test/e2e/detect.test.ts).

argv: <out> <case>. Writes <case>.pth (the checkpoint), the images as PNG, and for each image
torchvision's boxes, scores, labels and (Mask R-CNN) binary masks (> 0.5) in original pixels.
Random weights are calibrated so that outputs look like a trained model's: BatchNorm statistics
from real activations, and RPN / classifier logits scaled until scores are spread.
"""
import json
import os
import sys

import numpy as np
import torch
from torchvision.models.detection import FasterRCNN, MaskRCNN
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.ops.misc import FrozenBatchNorm2d

from scenes import scene
from tensor_archive import Archive

# case -> (architecture, backbone, min_size, max_size, image sizes (h, w))
CASES = {
    "mask-r18": ("mask", "resnet18", 320, 512, [(240, 320), (480, 360), (100, 400)]),
    "faster-r18": ("faster", "resnet18", 320, 512, [(240, 320), (300, 300)]),
    "mask-r50": ("mask", "resnet50", 320, 512, [(240, 320), (360, 200)]),
    "faster-r50-800": ("faster", "resnet50", 800, 1333, [(427, 640)]),
    "mask-r101": ("mask", "resnet101", 288, 480, [(240, 320)]),
    "faster-r101": ("faster", "resnet101", 288, 480, [(320, 240)]),
    "mask-x50": ("mask", "resnext50_32x4d", 288, 480, [(240, 320)]),
}
NUM_CLASSES = 6


def build(arch, backbone_name, min_size, max_size, calib_image):
    backbone = resnet_fpn_backbone(backbone_name=backbone_name, weights=None, trainable_layers=5)
    cls = MaskRCNN if arch == "mask" else FasterRCNN
    model = cls(backbone, num_classes=NUM_CLASSES, min_size=min_size, max_size=max_size).eval()

    def calibrate(m, inputs):
        (x,) = inputs
        n = x.shape[1]
        m.running_mean.copy_(x.mean((0, 2, 3)))
        m.running_var.copy_(x.var((0, 2, 3), unbiased=False).clamp_min(1e-3))
        m.weight.copy_(torch.empty(n).uniform_(0.5, 1.5))
        m.bias.copy_(torch.randn(n) * 0.2)

    with torch.no_grad():
        hooks = [m.register_forward_pre_hook(calibrate) for m in model.backbone.body.modules() if isinstance(m, FrozenBatchNorm2d)]
        images, _ = model.transform([calib_image])
        model.backbone.body(images.tensors)
        for h in hooks:
            h.remove()
        # Small residual-branch gains, as trained ResNets have: otherwise a random 100-layer net is
        # chaotic and float32 rounding alone (1e-4 of the features) reorders near-tied detections.
        for m in model.backbone.body.modules():
            if isinstance(m, Bottleneck):
                m.bn3.weight.mul_(0.2)
                m.bn3.bias.mul_(0.2)
            elif isinstance(m, BasicBlock):
                m.bn2.weight.mul_(0.2)
                m.bn2.bias.mul_(0.2)
        # Spread the logits: random heads otherwise give near-tied scores.
        model.rpn.head.cls_logits.weight.mul_(15.0)
        model.rpn.head.bbox_pred.weight.mul_(3.0)
        model.roi_heads.box_predictor.cls_score.weight.mul_(6.0)
        model.roi_heads.box_predictor.bbox_pred.weight.mul_(2.0)
        if arch == "mask":
            model.roi_heads.mask_predictor.mask_fcn_logits.weight.mul_(20.0)
    return model


def main(out, case):
    arch, backbone_name, min_size, max_size, sizes = CASES[case]
    torch.manual_seed(sum(map(ord, case)))
    a = Archive(out)
    images = []
    for i, (h, w) in enumerate(sizes):
        im = scene(h, w, seed=100 + i)
        path = os.path.join(out, f"image{i}.png")
        im.save(path)
        images.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float() / 255)
    model = build(arch, backbone_name, min_size, max_size, images[0])
    torch.save(model.state_dict(), os.path.join(out, f"{case}.pth"))
    with torch.no_grad():
        for i, img in enumerate(images):
            (res,) = model([img])
            a.put(f"image{i}/boxes", res["boxes"])
            a.put(f"image{i}/scores", res["scores"])
            a.put(f"image{i}/labels", res["labels"])
            if arch == "mask":
                a.put(f"image{i}/masks", (res["masks"][:, 0] > 0.5).to(torch.uint8))
    a.meta = {"arch": arch, "backbone": backbone_name, "minSize": min_size, "maxSize": max_size,
              "images": len(sizes), "numClasses": NUM_CLASSES}
    a.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
