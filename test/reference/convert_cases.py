"""Checkpoints for `resdet convert` tests: a ResNet-18-FPN Mask R-CNN with seeded random weights,
saved in torch's zip and legacy formats, and torchvision's outputs of its networks on one input."""
import os
import sys

import torch
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNPredictor
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.models.detection.rpn import concat_box_prediction_layers

from tensor_archive import Archive


def main(out):
    torch.manual_seed(11)
    a = Archive(out)
    backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5)
    # A narrow box head (128 instead of 1024) keeps the files and the tests small.
    model = MaskRCNN(backbone, box_head=TwoMLPHead(256 * 7 * 7, 128), box_predictor=FastRCNNPredictor(128, 4),
                     mask_predictor=MaskRCNNPredictor(256, 256, 4)).eval()
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                buf.normal_(0, 0.2)
        for name, p in model.named_parameters():
            if name.startswith(("rpn.", "roi_heads.")):
                p.copy_(torch.randn_like(p) * (2.0 / p[0].numel()) ** 0.5)
    sd = model.state_dict()
    torch.save(sd, os.path.join(out, "r18.pth"))
    torch.save({"model": sd, "epoch": 3}, os.path.join(out, "r18-legacy-nested.pth"), _use_new_zipfile_serialization=False)

    with torch.no_grad():
        images = torch.randn(1, 3, 64, 96)
        feats = model.backbone(images)
        a.put("images", images)
        for k, v in feats.items():
            a.put(f"features/{k}", v)
        objectness, deltas = concat_box_prediction_layers(*model.rpn.head(list(feats.values())))
        a.put("rpn/objectness", objectness.reshape(1, -1))
    a.close()


if __name__ == "__main__":
    main(sys.argv[1])
