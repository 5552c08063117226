"""Which image sizes torchvision 0.14's GeneralizedRCNNTransform can resize (test/transform).

An image whose short side resizes to 0 pixels (floor(side * scale) == 0, e.g. 1x5000 with
max_size 1333) makes F.interpolate raise; the others give their resized size.
"""
import sys

import torch
from torchvision.models.detection.transform import GeneralizedRCNNTransform

from tensor_archive import Archive

SIZES = [(1, 5000), (5000, 1), (1, 1), (2, 5000), (3, 5000), (4, 5000), (1, 1333), (1, 1334),
         (1, 1332), (1, 256), (1, 257), (256, 1), (2, 512), (2, 513), (7, 9000), (9000, 7)]
CONFIGS = {"torchvision": (800, 1333), "shapes": (256, 256)}


def main(out):
    a = Archive(out)
    errors = {}
    for cname, (min_size, max_size) in CONFIGS.items():
        t = GeneralizedRCNNTransform(min_size, max_size, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).eval()
        resized = []
        for h, w in SIZES:
            try:
                batch, _ = t([torch.full((3, h, w), 0.5)])
                resized.append(list(batch.image_sizes[0]))
            except RuntimeError as e:
                resized.append([0, 0])  # raised: no size
                errors.setdefault(cname, str(e).split("\n")[0])
        a.put(f"{cname}/resized", torch.tensor(resized, dtype=torch.int64))
    a.put("sizes", torch.tensor(SIZES, dtype=torch.int64))
    a.meta = {"configs": {k: list(v) for k, v in CONFIGS.items()}, "errors": errors}
    a.close()


if __name__ == "__main__":
    main(sys.argv[1])
