"""End-to-end reference for torchvision 0.14's v2 detectors (test/e2e/v2.test.ts):
`maskrcnn_resnet50_fpn_v2` and `fasterrcnn_resnet50_fpn_v2` with seeded random weights.

argv: <out> <case>. Writes <case>.pth, the images as PNG, and per image torchvision's boxes, scores,
labels and (Mask R-CNN) binary masks (> 0.5), plus for image0 the pyramid (pyramid/<level>) and
each head's inputs and outputs (rpn/, box/, mask/) for per-level and per-head checks. The v2 models use BatchNorm2d (eval: running statistics, eps 1e-5) in the ResNet
body, every FPN block, the conv box head and the mask head; every one gets non-trivial statistics
from real activations and seeded random affine terms, and the logits are spread (as
detect_cases.py does) so that detections are decisive rather than near-tied.
"""
import os
import sys

import numpy as np
import torch
from torch import nn
from torchvision.models.detection import fasterrcnn_resnet50_fpn_v2, maskrcnn_resnet50_fpn_v2
from torchvision.models.detection.rpn import concat_box_prediction_layers
from torchvision.models.resnet import Bottleneck

from scenes import scene
from tensor_archive import Archive

# case -> (architecture, min_size, max_size, image sizes (h, w))
CASES = {
    "mask-v2": ("mask", 320, 512, [(240, 320), (360, 200)]),
    "faster-v2": ("faster", 320, 512, [(300, 300), (200, 360)]),
}
NUM_CLASSES = 6


def build(arch, min_size, max_size, calib_image):
    builder = maskrcnn_resnet50_fpn_v2 if arch == "mask" else fasterrcnn_resnet50_fpn_v2
    model = builder(weights=None, weights_backbone=None, num_classes=NUM_CLASSES, min_size=min_size, max_size=max_size).eval()

    def calibrate(m, inputs):
        (x,) = inputs
        n = x.shape[1]
        m.running_mean.copy_(x.mean((0, 2, 3)))
        m.running_var.copy_(x.var((0, 2, 3), unbiased=False).clamp_min(1e-3))
        m.weight.copy_(torch.empty(n).uniform_(0.5, 1.5))
        m.bias.copy_(torch.randn(n) * 0.2)

    with torch.no_grad():
        # every BatchNorm2d, in forward order: each is calibrated on the input it really gets
        hooks = [m.register_forward_pre_hook(calibrate) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        model([calib_image])
        for h in hooks:
            h.remove()
        for m in model.backbone.body.modules():
            if isinstance(m, Bottleneck):
                m.bn3.weight.mul_(0.2)
                m.bn3.bias.mul_(0.2)
        model.rpn.head.cls_logits.weight.mul_(15.0)
        model.rpn.head.bbox_pred.weight.mul_(3.0)
        model.roi_heads.box_predictor.cls_score.weight.mul_(6.0)
        model.roi_heads.box_predictor.bbox_pred.weight.mul_(2.0)
        if arch == "mask":
            model.roi_heads.mask_predictor.mask_fcn_logits.weight.mul_(20.0)
    return model


def main(out, case):
    arch, min_size, max_size, sizes = CASES[case]
    torch.manual_seed(sum(map(ord, case)))
    a = Archive(out)
    images = []
    for i, (h, w) in enumerate(sizes):
        im = scene(h, w, seed=200 + i)
        im.save(os.path.join(out, f"image{i}.png"))
        images.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float() / 255)
    model = build(arch, min_size, max_size, images[0])
    torch.save(model.state_dict(), os.path.join(out, f"{case}.pth"))
    with torch.no_grad():
        batch, _ = model.transform([images[0]])
        a.put("pyramid/input", batch.tensors)
        features = model.backbone(batch.tensors)
        for name, t in features.items():
            a.put(f"pyramid/{name}", t)
        # per-head parity: the RPN head (anchor order), the conv box head on pooled proposals, the
        # BatchNorm2d mask head on pooled detections
        objectness, deltas = model.rpn.head(list(features.values()))
        objectness, deltas = concat_box_prediction_layers(objectness, deltas)
        a.put("rpn/objectness", objectness.reshape(1, -1))
        a.put("rpn/deltas", deltas.reshape(1, -1, 4))
        proposals, _ = model.rpn(batch, features)
        pooled = model.roi_heads.box_roi_pool(features, [proposals[0][:64]], batch.image_sizes)
        class_logits, box_deltas = model.roi_heads.box_predictor(model.roi_heads.box_head(pooled))
        a.put("box/pooled", pooled)
        a.put("box/classLogits", class_logits)
        a.put("box/boxDeltas", box_deltas)
        if arch == "mask":
            (det,) = model.roi_heads(features, proposals, batch.image_sizes)[0]
            boxes, labels = det["boxes"][:9], det["labels"][:9]
            pooled = model.roi_heads.mask_roi_pool(features, [boxes], batch.image_sizes)
            logits = model.roi_heads.mask_predictor(model.roi_heads.mask_head(pooled))
            a.put("mask/pooled", pooled)
            a.put("mask/labels", labels)
            a.put("mask/probs", logits[torch.arange(len(labels)), labels][:, None].sigmoid())
        for i, img in enumerate(images):
            (res,) = model([img])
            a.put(f"image{i}/boxes", res["boxes"])
            a.put(f"image{i}/scores", res["scores"])
            a.put(f"image{i}/labels", res["labels"])
            if arch == "mask":
                a.put(f"image{i}/masks", (res["masks"][:, 0] > 0.5).to(torch.uint8))
    a.meta = {"arch": arch, "minSize": min_size, "maxSize": max_size, "images": len(sizes), "numClasses": NUM_CLASSES}
    a.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
