"""Checkpoints for `npm run bench:convert`: torchvision's maskrcnn_resnet50_fpn (random weights,
~170 MB) saved in the zip format and in the legacy format torchvision's published files use.
argv: <out folder>."""
import os
import sys

import torch
from torchvision.models.detection import maskrcnn_resnet50_fpn

torch.manual_seed(0)
sd = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict()
torch.save(sd, os.path.join(sys.argv[1], "maskrcnn_r50_zip.pth"))
torch.save(sd, os.path.join(sys.argv[1], "maskrcnn_r50_legacy.pth"), _use_new_zipfile_serialization=False)
