"""torchvision 0.14 paste_masks_in_image on seeded masks and boxes (test/postprocess/pasteMasks).

Each case writes masks [N, 1, M, M], boxes [N, 4], the integer boxes after expand_boxes and
paste_masks_in_image's output [N, 1, H, W]. Boxes cover: inside, partly outside on every side,
wholly outside (only where torchvision 0.14 itself does not raise), sub-pixel, zero-size,
inverted, far larger than the image, on the image edges, and a boundary where truncation toward
zero differs from floor.
"""
import sys

import torch
from torchvision.models.detection.roi_heads import expand_boxes, expand_masks, paste_masks_in_image

from tensor_archive import Archive


def random_boxes(g, n, h, w):
    cx = torch.rand(n, generator=g) * (w + 60) - 30
    cy = torch.rand(n, generator=g) * (h + 60) - 30
    # widths from sub-pixel to twice the image, log-uniform
    bw = torch.exp(torch.rand(n, generator=g) * 7 - 2)
    bh = torch.exp(torch.rand(n, generator=g) * 7 - 2)
    return torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)


def hand_boxes(h, w):
    return torch.tensor([
        [0, 0, w - 1, h - 1], [0, 0, w, h], [-0.4, -0.4, 5.3, 7.9],          # whole image, corner
        [w - 6.5, h - 9.2, w + 0.3, h - 0.1], [w - 3, 2, w + 40, 30],       # bottom-right, right edge
        [-500, -500, 1000, 1000], [-3, -4, w + 5, h + 6],                    # larger than the image
        [5.2, 5.7, 5.9, 6.1], [10, 10, 10, 10], [20.5, 3.25, 20.75, 3.5],   # sub-pixel, zero-size
        [30, 20, 25, 28], [12, 30, 18, 26],                                 # inverted x, inverted y
        [-20, -20, -0.5, -0.5],                                             # trunc(-0.x) = 0 pastes
        [w + 1, 10, w + 20, 30], [10, h + 1, 30, h + 20], [-30, 10, -2, 30],  # outside, no error
        [w / 2 - 13.5, h / 2 - 13.5, w / 2 + 13.5, h / 2 + 13.5],           # exact 30 px: copy path
    ], dtype=torch.float32)


def works_in_torchvision(mask, box, h, w):
    try:
        paste_masks_in_image(mask[None], box[None], (h, w))
        return True
    except RuntimeError:
        return False


def put_case(a, name, masks, boxes, h, w, padding=1):
    out = paste_masks_in_image(masks, boxes, (h, w), padding=padding)
    _, scale = expand_masks(masks, padding=padding)
    a.put(f"{name}/masks", masks)
    a.put(f"{name}/boxes", boxes)
    a.put(f"{name}/int_boxes", expand_boxes(boxes, scale).to(torch.int64))
    a.put(f"{name}/out", out)
    a.put(f"{name}/image_size", torch.tensor([h, w]))
    a.put(f"{name}/padding", torch.tensor([padding]))


def main(out):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(1)
    a = Archive(out)
    cases = []
    for name, n, m, h, w, padding in [("random28", 40, 28, 90, 130, 1), ("random14", 12, 14, 61, 47, 1),
                                      ("padding0", 10, 28, 70, 80, 0), ("padding2", 10, 28, 70, 80, 2)]:
        masks = torch.rand(n, 1, m, m, generator=g)
        boxes = random_boxes(g, n, h, w)
        keep = [i for i in range(n) if works_in_torchvision(masks[i], boxes[i], h, w)]
        put_case(a, name, masks[keep], boxes[keep], h, w, padding)
        cases.append(name)
    h, w = 64, 96
    boxes = hand_boxes(h, w)
    masks = torch.rand(len(boxes), 1, 28, 28, generator=g)
    assert all(works_in_torchvision(masks[i], boxes[i], h, w) for i in range(len(boxes)))
    put_case(a, "hand", masks, boxes, h, w)
    cases.append("hand")
    # masks the head could give: smooth blobs (sigmoid of a scaled bump), boxes inside the image
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centres = torch.rand(8, 2, generator=g) * 14 + 7
    logits = 8 - ((yy[None] - centres[:, None, None, 0]) ** 2 + (xx[None] - centres[:, None, None, 1]) ** 2) / 6
    blobs = torch.sigmoid(logits)[:, None]
    boxes = random_boxes(g, 8, 120, 160).clamp(min=0)
    boxes[:, 2].clamp_(max=160)
    boxes[:, 3].clamp_(max=120)
    put_case(a, "blobs", blobs, boxes, 120, 160)
    cases.append("blobs")
    put_case(a, "empty", torch.zeros(0, 1, 28, 28), torch.zeros(0, 4), 20, 30)
    cases.append("empty")
    a.meta = {"cases": cases}
    a.close()


if __name__ == "__main__":
    main(sys.argv[1])
