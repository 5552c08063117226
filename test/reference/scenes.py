"""Synthetic photo-like test images shared by the reference scripts."""
import numpy as np
from PIL import Image, ImageDraw


def scene(h, w, seed):
    """A photo-like image: gradient background, overlapping filled shapes, sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    bg = np.stack([x / w * 160 + 40, y / h * 140 + 50, (x + y) / (w + h) * 120 + 70], -1)
    im = Image.fromarray(bg.clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    for _ in range(8):
        cx, cy = rng.integers(0, w), rng.integers(0, h)
        r = int(rng.integers(8, max(9, min(w, h) // 3)))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        else:
            d.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=colour)
    arr = np.asarray(im).astype(np.float32) + rng.normal(0, 5, (h, w, 3))
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))
