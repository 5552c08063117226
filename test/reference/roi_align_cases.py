"""torchvision 0.14 reference for postprocess/roiAlign.ts and postprocess/multiScaleRoiAlign.ts.

Writes seeded inputs and torchvision's outputs (CPU, float32, one thread) with tensor_archive.
Usage: roi_align_cases.py OUTPUT_FOLDER

roi/<run>/...: torchvision.ops.roi_align over one feature batch for every sampling ratio, aligned
  true/false, several spatial scales and output sizes, on RoIs that cross the border, are smaller
  than a pixel, larger than the map, degenerate, inverted, outside, or put a sample exactly on the
  kernel's y = -1 / y = H edges.
msra/<case>/...: MultiScaleRoIAlign on a 4-level pyramid of padded images, with torchvision's
  inferred scales and LevelMapper levels, so that the tests check our declared strides agree.
"""
import sys

import torch
from torchvision.ops import MultiScaleRoIAlign, roi_align
from torchvision.ops.poolers import LevelMapper

from tensor_archive import Archive

torch.set_num_threads(1)
out = Archive(sys.argv[1])
g = torch.Generator().manual_seed(20240611)
meta = {"roi": [], "msra": []}

# --- roi_align ---------------------------------------------------------------------------------
N, C, H, W = 3, 3, 11, 13
features = torch.randn(N, C, H, W, generator=g) * 3
out.put("roi/input", features)


def feature_rois():
    """RoIs in feature-map pixels (x1, y1, x2, y2), one list per category."""
    r = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    inside = torch.cat([r(8, 2) * torch.tensor([W - 3, H - 3]), r(8, 2) * 3 + 0.5], 1)
    inside[:, 2:] += inside[:, :2]
    crossing = torch.tensor([[-3.0, -2.5, 4.0, 5.0], [9.0, 7.5, 15.5, 13.0], [-1.2, 4.0, 14.7, 6.0],
                             [5.0, -0.6, 6.0, 11.8], [11.9, 9.9, 13.4, 11.4]])
    tiny = torch.tensor([[3.2, 4.1, 3.5, 4.3], [0.0, 0.0, 0.2, 0.1], [12.5, 10.5, 12.9, 10.9],
                         [6.01, 2.0, 6.02, 2.01]])
    larger = torch.tensor([[-20.0, -15.0, 40.0, 33.0], [-5.0, -5.0, 18.0, 16.0], [-100.0, 2.0, 100.0, 3.0]])
    degenerate = torch.tensor([[4.0, 4.0, 4.0, 4.0], [2.0, 3.0, 2.0, 8.0], [1.0, 6.0, 9.0, 6.0],
                               [0.0, 0.0, 0.0, 0.0], [13.0, 11.0, 13.0, 11.0]])
    inverted = torch.tensor([[8.0, 2.0, 3.0, 7.0], [2.0, 9.0, 7.0, 1.0], [10.0, 9.5, 1.0, 0.5],
                             [12.0, 10.0, -3.0, -4.0], [30.0, 5.0, 1.0, 6.0]])
    outside = torch.tensor([[20.0, 20.0, 30.0, 25.0], [-9.0, -9.0, -2.0, -3.0], [15.0, 2.0, 18.0, 6.0],
                            [2.0, -8.0, 6.0, -1.5]])
    # 1 sample per bin, 1x1 output: the sample sits at the RoI centre, exactly on -1 / H / W edges
    edges = torch.tensor([[2.0, -2.0, 4.0, 0.0], [2.0, -2.0625, 4.0, 0.0], [-3.0, 2.0, 1.0, 4.0],
                          [2.0, float(H - 1), 4.0, float(H + 1)], [2.0, float(H - 1), 4.0, float(H + 1) + 0.125],
                          [float(W - 2), 2.0, float(W + 2), 4.0], [float(W), 2.0, float(W + 0.25), 4.0]])
    return {"inside": inside, "crossing": crossing, "tiny": tiny, "larger": larger,
            "degenerate": degenerate, "inverted": inverted, "outside": outside, "edges": edges}


categories = feature_rois()
feature_boxes = torch.cat(list(categories.values()), 0)
batch = torch.arange(len(feature_boxes)) % N
meta["roi_categories"] = {k: len(v) for k, v in categories.items()}



def kernel_accepts(rois, size, scale, sampling, aligned):
    """False where torchvision 0.14 raises "cannot create std::vector larger than max_size()": with
    aligned and adaptive sampling, exactly one of the grid sides ceil(side / pooled) is negative
    (its pre_calc size GH * GW * PH * PW is negative). Computed in float32 as the kernel does."""
    if sampling > 0 or not aligned:
        return torch.ones(len(rois), dtype=torch.bool)
    s = torch.tensor(scale, dtype=torch.float32)
    start, end = rois[:, 1:3] * s - 0.5, rois[:, 3:5] * s - 0.5
    side = end - start  # (width, height)
    grid = torch.ceil(side / torch.tensor([size[1], size[0]], dtype=torch.float32))
    return grid[:, 0] * grid[:, 1] >= 0


scales = [1.0, 0.5, 0.25, 1.0 / 3.0, 2.0]
sizes = [(7, 7), (2, 3), (5, 1), (1, 1), (14, 14), (3, 8)]
run = 0
for aligned in (False, True):
    for sampling in (0, -1, 1, 2, 3):
        for scale in scales:
            size = sizes[run % len(sizes)]
            # image coordinates whose product with the scale lands on the feature boxes above
            rois = torch.cat([batch[:, None].float(), feature_boxes / scale], 1).float()
            name = "roi/%02d" % run
            out.put(name + "/rois", rois)
            ok = kernel_accepts(rois, size, scale, sampling, aligned)
            out.put(name + "/accepted", ok)
            out.put(name + "/output", roi_align(features, rois[ok], size, scale, sampling, aligned))
            meta["roi"].append({"name": name, "aligned": aligned, "samplingRatio": sampling,
                                "spatialScale": scale, "outputSize": list(size)})
            run += 1

# edges on a 1x1 output with one sample, where the kernel's in-map test is decided exactly
for aligned in (False, True):
    name = "roi/edges_%s" % ("aligned" if aligned else "legacy")
    # aligned subtracts 0.5 pixel: shift by +0.5 so that its samples sit on the same edges
    shift = 0.5 if aligned else 0.0
    rois = torch.cat([torch.zeros(len(categories["edges"]), 1), categories["edges"] + shift], 1)
    out.put(name + "/rois", rois)
    out.put(name + "/accepted", torch.ones(len(rois), dtype=torch.bool))
    out.put(name + "/output", roi_align(features, rois, (1, 1), 1.0, 1, aligned))
    meta["roi"].append({"name": name, "aligned": aligned, "samplingRatio": 1, "spatialScale": 1.0,
                        "outputSize": [1, 1]})

# RoIs of +-1e30 with a fixed grid (with an adaptive one the kernel would allocate petabytes)
name = "roi/huge_fixed_grid"
rois = torch.tensor([[0, -1e30, -1e30, 1e30, 1e30], [1, 1e30, 1e30, 2e30, 2e30], [2, -1e30, 3.0, 1e30, 9.0]])
out.put(name + "/rois", rois)
out.put(name + "/output", roi_align(features, rois, (7, 7), 1.0, 2, False))

# --- MultiScaleRoIAlign --------------------------------------------------------------------------
# Two images resized to 799x1199 and 640x1000, batched and padded to 800x1216 as
# GeneralizedRCNNTransform does; the FPN maps of the padded batch are 200x304 .. 25x38.
image_shapes = [(799, 1199), (640, 1000)]
padded = (800, 1216)
PC = 4
pyramid = {}
for i, stride in enumerate((4, 8, 16, 32)):
    pyramid[str(i)] = torch.randn(2, PC, padded[0] // stride, padded[1] // stride, generator=g)
    out.put("msra/feature_%d" % i, pyramid[str(i)])


def boxes_for_levels(n, max_h, max_w):
    """Random boxes whose sqrt(area) spans 4 .. 1400: levels below 2 and above 5 are clamped."""
    side = torch.exp(torch.rand(n, generator=g) * (torch.log(torch.tensor(1400.0)) - torch.log(torch.tensor(4.0))) + torch.log(torch.tensor(4.0)))
    aspect = torch.exp((torch.rand(n, generator=g) - 0.5) * 2.0)
    w, h = side * aspect.sqrt(), side / aspect.sqrt()
    cx = torch.rand(n, generator=g) * max_w
    cy = torch.rand(n, generator=g) * max_h
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)


# boxes at the mapper's boundaries: sqrt(area) = 112, 224, 448 exactly and one float32 step below;
# zero area (lowest level); negative area (NaN level: stays zero); both sides inverted (positive)
special = torch.tensor([
    [10.0, 10.0, 122.0, 122.0], [10.0, 10.0, 234.0, 234.0], [10.0, 10.0, 458.0, 458.0],
    [10.0, 10.0, 121.99999, 122.0], [10.0, 10.0, 233.99998, 234.0], [5.0, 5.0, 452.99997, 453.0],
    [0.0, 0.0, 56.0, 224.0], [20.0, 30.0, 20.0, 90.0], [40.0, 40.0, 40.0, 40.0],
    [300.0, 100.0, 200.0, 400.0], [300.0, 400.0, 200.0, 100.0], [-50.0, -60.0, 900.0, 850.0],
    [1100.0, 700.0, 1250.0, 820.0],
])
boxes_a = torch.cat([boxes_for_levels(120, 799, 1199), special], 0)
boxes_b = boxes_for_levels(40, 640, 1000)
names = ["0", "1", "2", "3"]
cases = [
    ("two_images_7", [boxes_a, boxes_b], (7, 7), 2, names),
    ("two_images_14", [boxes_a, boxes_b], (14, 14), 2, names),
    ("non_square_adaptive", [boxes_a, boxes_b], (3, 5), 0, names),
    ("first_image_empty", [torch.zeros(0, 4), boxes_b], (7, 7), 2, names),
    ("single_level", [boxes_a[:30], boxes_b[:10]], (7, 7), 2, ["1"]),
]
for name, boxes, size, sampling, featmap_names in cases:
    pooler = MultiScaleRoIAlign(featmap_names, size, sampling)
    result = pooler(pyramid, boxes, image_shapes)
    prefix = "msra/" + name
    for i, b in enumerate(boxes):
        out.put("%s/boxes_%d" % (prefix, i), b.float())
    out.put(prefix + "/output", result)
    entry = {"name": prefix, "images": len(boxes), "outputSize": list(size), "samplingRatio": sampling,
             "levels": [int(n) for n in featmap_names], "inferredScales": pooler.scales}
    if isinstance(pooler.map_levels, LevelMapper) and len(featmap_names) > 1:
        levels = pooler.map_levels(boxes)
        # a NaN level (negative area) becomes INT64_MIN - k_min; written as -1, "no level"
        levels[(levels < 0) | (levels >= len(featmap_names))] = -1
        out.put(prefix + "/levels", levels)
        entry["kMin"], entry["kMax"] = pooler.map_levels.k_min, pooler.map_levels.k_max
    meta["msra"].append(entry)

out.meta = meta
out.close()
