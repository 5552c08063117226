"""Inputs and torchvision timings for `npm run bench:ops`.

Writes seeded inputs to an archive (argv[1]) and times torchvision 0.14's CPU kernels on them on one
thread, so that bench/ops.ts times ours on exactly the same data in the same run.
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "reference"))
from tensor_archive import Archive  # noqa: E402

import torch  # noqa: E402
from torchvision.ops import MultiScaleRoIAlign, batched_nms, nms  # noqa: E402
from torchvision.models.detection.roi_heads import paste_masks_in_image  # noqa: E402

torch.set_num_threads(1)
REPEATS = int(os.environ.get("RESDET_BENCH_REPEATS", "9"))
IMAGE_H, IMAGE_W = 800, 1216


def median_ms(fn):
    fn()  # warm-up
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def random_boxes(g, n, max_side=300.0):
    cx = torch.rand(n, generator=g) * IMAGE_W
    cy = torch.rand(n, generator=g) * IMAGE_H
    w = 8.0 + torch.rand(n, generator=g) * max_side
    h = 8.0 + torch.rand(n, generator=g) * max_side
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)


def main(out):
    g = torch.Generator().manual_seed(2026)
    a = Archive(out)
    times = {}
    with torch.no_grad():
        for n in (1000, 5000):
            boxes, scores = random_boxes(g, n), torch.rand(n, generator=g)
            a.put(f"nms{n}/boxes", boxes)
            a.put(f"nms{n}/scores", scores)
            times[f"nms{n}"] = median_ms(lambda: nms(boxes, scores, 0.7))

        boxes, scores = random_boxes(g, 5000), torch.rand(5000, generator=g)
        idxs = torch.randint(0, 80, (5000,), generator=g)
        a.put("batched/boxes", boxes)
        a.put("batched/scores", scores)
        a.put("batched/idxs", idxs)
        times["batched"] = median_ms(lambda: batched_nms(boxes, scores, idxs, 0.5))

        # A 256-channel FPN pyramid of an 800x1216 image (levels '0'..'3', strides 4..32).
        feats = {}
        for i, stride in enumerate((4, 8, 16, 32)):
            feats[str(i)] = torch.randn(1, 256, IMAGE_H // stride, IMAGE_W // stride, generator=g)
            a.put(f"features/{i}", feats[str(i)])
        image_shapes = [(IMAGE_H, IMAGE_W)]
        for n, size in ((1000, 7), (100, 14)):
            rois = random_boxes(g, n, max_side=500.0).clamp(min=0)
            rois[:, 2].clamp_(max=IMAGE_W)
            rois[:, 3].clamp_(max=IMAGE_H)
            a.put(f"roi{size}/boxes", rois)
            pooler = MultiScaleRoIAlign(["0", "1", "2", "3"], size, 2)
            times[f"roi{size}"] = median_ms(lambda: pooler(feats, [rois], image_shapes))

        masks = torch.rand(100, 1, 28, 28, generator=g)
        boxes = random_boxes(g, 100, max_side=400.0)
        a.put("paste/masks", masks)
        a.put("paste/boxes", boxes)
        times["paste"] = median_ms(lambda: paste_masks_in_image(masks, boxes, (IMAGE_H, IMAGE_W), 1))

    a.meta = {"torchvisionMs": times, "repeats": REPEATS, "imageSize": [IMAGE_H, IMAGE_W],
              "torch": torch.__version__, "threads": torch.get_num_threads()}
    a.close()


if __name__ == "__main__":
    main(sys.argv[1])
