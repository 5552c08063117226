"""torchvision 0.14 reference for postprocess/{nms,nmsSort,boxes,boxCoder,anchors}.ts.

Writes seeded inputs and torchvision's outputs (CPU, float32, one thread) with tensor_archive.
Usage: box_ops_cases.py OUTPUT_FOLDER
"""
import math
import sys

import torch
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import boxes as box_ops

from tensor_archive import Archive

torch.set_num_threads(1)
out = Archive(sys.argv[1])
cases = {"sort": [], "nms": [], "batched": [], "anchors": []}


def make_boxes(n, g, spread=900.0):
    """Clustered boxes (so NMS has work) with duplicates, zero-area, inverted and outside boxes."""
    clusters = max(1, n // 20)
    centers = torch.rand(clusters, 2, generator=g) * spread - 50
    which = torch.randint(0, clusters, (n,), generator=g)
    ctr = centers[which] + torch.randn(n, 2, generator=g) * 15
    size = torch.exp(torch.rand(n, 2, generator=g) * (math.log(200) - math.log(4)) + math.log(4))
    boxes = torch.cat([ctr - size / 2, ctr + size / 2], dim=1).float()
    if n >= 4:
        k = max(1, n // 20)
        dst = torch.randint(1, n, (k,), generator=g)
        src = (torch.rand(k, generator=g) * dst.float()).long()  # an earlier box, exactly
        boxes[dst] = boxes[src]
        zero = torch.randint(0, n, (max(1, n // 30),), generator=g)
        boxes[zero, 2] = boxes[zero, 0]
        inv = torch.randint(0, n, (max(1, n // 30),), generator=g)
        boxes[inv] = boxes[inv][:, [2, 3, 0, 1]]
        far = torch.randint(0, n, (max(1, n // 50),), generator=g)
        boxes[far] += 5000.5
    return boxes


def make_scores(n, g, mode):
    if mode == "ties":  # few distinct values: exact ties everywhere
        return (torch.randint(0, 8, (n,), generator=g).float() / 8)
    if mode == "continuous":
        return torch.rand(n, generator=g)
    s = torch.rand(n, generator=g)  # mixed: half the boxes share a handful of values
    tied = torch.rand(n, generator=g) < 0.5
    s[tied] = torch.randint(0, 4, (int(tied.sum()),), generator=g).float() / 4
    return s


g = torch.Generator().manual_seed(20240514)

# --- torch's unstable descending sort: tie order per size (16 vs 17 is where std::sort stops being stable)
for n in [2, 16, 17, 33, 100, 1000, 5000]:
    for levels in [1, 3, 1 << 20]:
        name = "sort/n%d_l%d" % (n, levels)
        keys = torch.randint(0, levels, (n,), generator=g).float() / 7
        out.put(name + "/keys", keys)
        out.put(name + "/order", keys.sort(descending=True)[1])
        out.put(name + "/stable_order", keys.sort(descending=True, stable=True)[1])
        cases["sort"].append(name)
signed = torch.tensor([0.0, -0.0, 1.0, -0.0, float("inf"), 0.0, float("-inf"), -1.0, 0.0, float("inf")] * 5)
out.put("sort/signed_zero_inf/keys", signed)
out.put("sort/signed_zero_inf/order", signed.sort(descending=True)[1])
out.put("sort/signed_zero_inf/stable_order", signed.sort(descending=True, stable=True)[1])
cases["sort"].append("sort/signed_zero_inf")
for n in [1000, 5000]:  # patterns that drive introsort into its heapsort fallback
    pipe = torch.cat([torch.arange(n // 2), torch.arange(n // 2).flip(0)]).float()
    for label, keys in [("asc", torch.arange(n).float()), ("pipe", pipe)]:
        name = "sort/%s%d" % (label, n)
        out.put(name + "/keys", keys)
        out.put(name + "/order", keys.sort(descending=True)[1])
        out.put(name + "/stable_order", keys.sort(descending=True, stable=True)[1])
        cases["sort"].append(name)

# --- nms
for n in [0, 1, 2, 17, 100, 1000, 5000]:
    for mode in ["ties", "continuous", "mixed"]:
        boxes = make_boxes(n, g)
        scores = make_scores(n, g, mode)
        name = "nms/n%d_%s" % (n, mode)
        out.put(name + "/boxes", boxes)
        out.put(name + "/scores", scores)
        for t in [0.0, 0.3, 0.5, 0.7, 1.0]:
            out.put(name + "/keep_%g" % t, torch.ops.torchvision.nms(boxes, scores, t))
        cases["nms"].append(name)
# identical boxes and scores: which duplicate survives is pure tie order
dup = make_boxes(40, g)[:5].repeat(60, 1)
out.put("nms/duplicates/boxes", dup)
out.put("nms/duplicates/scores", torch.full((300,), 0.5))
for t in [0.0, 0.3, 0.5, 0.7, 1.0]:
    out.put("nms/duplicates/keep_%g" % t, box_ops.nms(dup, torch.full((300,), 0.5), t))
cases["nms"].append("nms/duplicates")
# shapes that stress how overlapping pairs are searched for (grid or quadratic loop in ours)
def tiny_and_huge(n, g):  # mostly 1-5 px boxes plus a few near image-sized ones
    b = make_boxes(n, g)
    b[:, 2:] = b[:, :2] + torch.rand(n, 2, generator=g) * 4 + 1
    big = torch.randint(0, n, (n // 20,), generator=g)
    b[big, 2:] = b[big, :2] + 700 + torch.rand(len(big), 2, generator=g) * 200
    return b


def all_empty(n, g):  # zero-area and inverted boxes only: nothing overlaps anything
    b = make_boxes(n, g)
    b[: n // 2, 2] = b[: n // 2, 0]
    b[n // 2:] = b[n // 2:][:, [2, 3, 0, 1]]
    return b


def huge_span(n, g):  # finite coordinates near float32's limit: spans and areas overflow float32
    b = make_boxes(n, g)
    b[: n // 3] *= 1e34
    b[n // 3: 2 * n // 3] = b[n // 3: 2 * n // 3] * 1e34 - 2e38
    return b


for label, maker in [("tiny_and_huge", tiny_and_huge), ("all_empty", all_empty), ("huge_span", huge_span)]:
    boxes = maker(2000, g)
    scores = make_scores(2000, g, "mixed")
    name = "nms/" + label
    out.put(name + "/boxes", boxes)
    out.put(name + "/scores", scores)
    for t in [0.0, 0.3, 0.5, 0.7, 1.0]:
        out.put(name + "/keep_%g" % t, box_ops.nms(boxes, scores, t))
    cases["nms"].append(name)
# -0.0 ties with 0.0 in torch's sort: which duplicate survives follows the index
zero_boxes = make_boxes(40, g)[:4].repeat(10, 1)
zero_scores = torch.tensor([0.0, -0.0, 0.5, -0.0] * 10)
out.put("nms/signed_zero_scores/boxes", zero_boxes)
out.put("nms/signed_zero_scores/scores", zero_scores)
for t in [0.0, 0.3, 0.5, 0.7, 1.0]:
    out.put("nms/signed_zero_scores/keep_%g" % t, box_ops.nms(zero_boxes, zero_scores, t))
cases["nms"].append("nms/signed_zero_scores")
# infinite scores are legal: they sort first / last
inf_boxes = make_boxes(200, g)
inf_scores = make_scores(200, g, "ties")
inf_scores[::7] = float("inf")
inf_scores[3::11] = float("-inf")
out.put("nms/infinite_scores/boxes", inf_boxes)
out.put("nms/infinite_scores/scores", inf_scores)
for t in [0.0, 0.3, 0.5, 0.7, 1.0]:
    out.put("nms/infinite_scores/keep_%g" % t, box_ops.nms(inf_boxes, inf_scores, t))
cases["nms"].append("nms/infinite_scores")

# --- batched_nms: <= 1000 boxes uses the coordinate trick, > 1000 the per-class loop
batched_specs = [
    (5, 2, "dense", 0.0), (300, 10, "dense", 0.0), (1000, 80, "dense", 0.0), (1000, 5, "sparse", 0.0),
    (1000, 7, "dense", -400.0), (1001, 80, "dense", 0.0), (1001, 6, "sparse", 0.0), (2000, 5, "dense", -400.0),
    (5000, 80, "dense", 0.0), (5000, 91, "huge", 0.0), (1000, 12, "huge", 0.0),
]
for n, groups, idx_mode, shift in batched_specs:
    for mode in ["ties", "mixed"]:
        boxes = make_boxes(n, g) + shift  # shift < -1 makes the trick's class offsets overlap
        scores = make_scores(n, g, mode)
        idxs = torch.randint(0, groups, (n,), generator=g)
        if idx_mode == "sparse":
            idxs = idxs * 1000 - 2500
        elif idx_mode == "huge":
            idxs = idxs * 20000000 - 1000000000
        name = "batched/n%d_g%d_%s_s%d_%s" % (n, groups, idx_mode, -shift, mode)
        out.put(name + "/boxes", boxes)
        out.put(name + "/scores", scores)
        out.put(name + "/idxs", idxs.int())
        for t in [0.0, 0.5, 0.7]:
            out.put(name + "/keep_%g" % t, box_ops.batched_nms(boxes, scores, idxs, t))
        cases["batched"].append(name)

# --- box coder
anchors = make_boxes(2000, g).abs()
anchors[:, 2:] = anchors[:, :2] + torch.rand(2000, 2, generator=g) * 300 + 1
rpn_deltas = torch.randn(2000, 4, generator=g)
rpn_deltas[::50, 2:] = 12.0  # beyond log(1000/16): clipped before exp
rpn_deltas[1::50, 2:] = float("inf")
out.put("decode/rpn/boxes", anchors)
out.put("decode/rpn/rel_codes", rpn_deltas)
out.put("decode/rpn/pred", BoxCoder((1.0, 1.0, 1.0, 1.0)).decode(rpn_deltas, [anchors]).reshape(2000, 4))
proposals = anchors[:300].clone()
head_deltas = torch.randn(300, 91 * 4, generator=g) * 3
head_deltas[::17] *= 40
out.put("decode/roi/boxes", proposals)
out.put("decode/roi/rel_codes", head_deltas)
out.put("decode/roi/pred", BoxCoder((10.0, 10.0, 5.0, 5.0)).decode(head_deltas, [proposals]).reshape(300, -1))
gt = make_boxes(1000, g).abs()
gt[:, 2:] = gt[:, :2] + torch.rand(1000, 2, generator=g) * 300 + 0.5
ex = gt + torch.randn(1000, 4, generator=g) * 10
ex[:, 2:] = torch.maximum(ex[:, 2:], ex[:, :2] + 0.25)
out.put("encode/reference_boxes", gt)
out.put("encode/proposals", ex)
for w in [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)]:
    out.put("encode/targets_%g" % w[0], BoxCoder(w).encode_single(gt, ex))

# --- clip, remove_small_boxes, area, iou
clip_in = torch.rand(500, 8, generator=g) * 1000 - 100
clip_in[7, 1] = float("nan")
out.put("clip/boxes", clip_in)
out.put("clip/clipped", box_ops.clip_boxes_to_image(clip_in.reshape(-1, 4), (600, 800)).reshape(500, 8))
small = torch.rand(400, 4, generator=g) * 100
side = torch.tensor([0.0, 1e-3, 1e-2, 0.5e-3, 2e-3, 0.9e-2, 1.1e-2, -1.0]).float()
small[:, 2] = small[:, 0] + side[torch.randint(0, 8, (400,), generator=g)]
small[:, 3] = small[:, 1] + side[torch.randint(0, 8, (400,), generator=g)]
out.put("small/boxes", small)
out.put("small/keep_0.001", box_ops.remove_small_boxes(small, 1e-3))
out.put("small/keep_0.01", box_ops.remove_small_boxes(small, 1e-2))
b1, b2 = make_boxes(60, g), make_boxes(45, g)
out.put("iou/boxes1", b1)
out.put("iou/boxes2", b2)
out.put("iou/area1", box_ops.box_area(b1))
out.put("iou/iou", box_ops.box_iou(b1, b2))

# --- anchors
anchor_specs = [
    ("fpn_800x1216", ((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5, (800, 1216),
     [(200, 304), (100, 152), (50, 76), (25, 38), (13, 19)]),
    ("fpn_odd_803x1205", ((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5, (803, 1205),
     [(201, 302), (101, 151), (51, 76), (26, 38), (13, 19)]),
    ("single_level_many", ((16, 45, 91, 128, 333),), ((0.25, 0.7, 1.0, 1.5, 3.3),), (100, 130), [(7, 9)]),
]
for name, sizes, ratios, image, grids in anchor_specs:
    gen = AnchorGenerator(sizes, ratios)
    images = ImageList(torch.zeros(1, 3, *image), [image])
    feats = [torch.zeros(1, 1, h, w) for h, w in grids]
    out.put("anchors/%s/anchors" % name, gen(images, feats)[0])
    cases["anchors"].append({"name": name, "sizes": sizes, "ratios": ratios, "image": image, "grids": grids})

out.meta = {"cases": cases, "thresholds": [0.0, 0.3, 0.5, 0.7, 1.0], "batched_thresholds": [0.0, 0.5, 0.7],
            "torch": torch.__version__}
out.close()
