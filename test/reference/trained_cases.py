"""torchvision 0.14 on the project's trained shapes Mask R-CNN (test/e2e/trained.test.ts): realistic
proposals and masks, which random weights do not give.

argv: <out> <checkpoint> <image>... Writes, per image, torchvision's boxes, scores, labels and binary
masks (> 0.5) in original pixels.
"""
import os
import sys

import numpy as np
import torch
from PIL import Image

from tensor_archive import Archive

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
from shapes_model import build_model  # noqa: E402


def main(out, checkpoint, images):
    a = Archive(out)
    sd = torch.load(checkpoint, map_location="cpu")
    sd = sd.get("model", sd)  # a training checkpoint nests the state dict
    num_classes = sd["roi_heads.box_predictor.cls_score.weight"].shape[0]
    model = build_model(num_classes).eval()
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    with torch.no_grad():
        for i, path in enumerate(images):
            im = np.asarray(Image.open(path).convert("RGB"))
            (res,) = model([torch.from_numpy(im.copy()).permute(2, 0, 1).float() / 255])
            a.put(f"image{i}/boxes", res["boxes"])
            a.put(f"image{i}/scores", res["scores"])
            a.put(f"image{i}/labels", res["labels"])
            a.put(f"image{i}/masks", (res["masks"][:, 0] > 0.5).to(torch.uint8))
    a.meta = {"images": len(images)}
    a.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
