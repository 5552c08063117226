"""The resized size under the two scale rules (test/transform/resizeRule.test.ts).

'torchvision-0.14': torchvision 0.14's own `_resize_image_and_masks` (the scale computed in
float32 as reciprocal(short) * min_size), run on a blank image. 'float64': newer torchvision's
rule, scale = min(min_size / short, max_size / long) in plain Python doubles and floor(side *
scale), as F.interpolate(recompute_scale_factor=True) sizes its output; no torch involved.
Cases: 427x640 (799x1199 vs 800x1199), then sizes where the rules differ, found by a sweep, and
some where they agree.
"""
import math
import sys

import numpy as np
import torch
from torchvision.models.detection.transform import _resize_image_and_masks

from tensor_archive import Archive


def float64_size(h, w, min_size, max_size):
    scale = min(min_size / min(h, w), max_size / max(h, w))
    return [math.floor(h * scale), math.floor(w * scale)]


def float32_guess(h, w, min_size, max_size):
    f = np.float32
    scale = min(f(f(1) / f(min(h, w))) * f(min_size), f(f(1) / f(max(h, w))) * f(max_size))
    return [math.floor(h * float(scale)), math.floor(w * float(scale))]


def torchvision_014_size(h, w, min_size, max_size):
    image, _ = _resize_image_and_masks(torch.zeros(3, h, w), float(min_size), float(max_size))
    return list(image.shape[-2:])


def main(out):
    cases = [(427, 640, 800, 1333)]
    differing = [(h, w, 800, 1333) for h in range(100, 1000) for w in (640, 1000, 1333)
                 if h <= w and float32_guess(h, w, 800, 1333) != float64_size(h, w, 800, 1333)]
    cases += differing[:: max(1, len(differing) // 12)][:12]
    cases += [(480, 640, 800, 1333), (333, 333, 800, 1333), (240, 320, 320, 512), (200, 1000, 800, 1333), (1100, 700, 800, 1333)]
    rows = []
    for h, w, mn, mx in cases:
        rows.append({"h": h, "w": w, "minSize": mn, "maxSize": mx,
                     "torchvision-0.14": torchvision_014_size(h, w, mn, mx), "float64": float64_size(h, w, mn, mx)})
    a = Archive(out)
    a.meta = {"cases": rows, "differing": len(differing)}
    a.close()


if __name__ == "__main__":
    main(sys.argv[1])
