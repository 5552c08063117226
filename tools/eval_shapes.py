#!/usr/bin/python3
"""COCO-style AP@[0.5:0.95] (101-point interpolation, all areas, up to 100 detections per image)
of a shapes checkpoint on the validation split, boxes and masks; a small stand-in for pycocotools.

    /usr/bin/python3 tools/eval_shapes.py --data .cache/shapes/data --ckpt .cache/train/model_final.pth [--images 200]
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shapes_data import ShapesDataset  # noqa: E402
from shapes_model import build_model  # noqa: E402

THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALLS = np.linspace(0, 1, 101)


def box_iou(a, b):
    """a [N, 4], b [M, 4] xyxy -> [N, M]"""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(2)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def mask_iou(a, b):
    """a [N, H, W], b [M, H, W] binary -> [N, M]"""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    a = a.reshape(len(a), -1).astype(np.float64)
    b = b.reshape(len(b), -1).astype(np.float64)
    inter = a @ b.T
    return inter / (a.sum(1)[:, None] + b.sum(1)[None, :] - inter)


def average_precision(per_image, num_classes):
    """per_image: list of (iou [D, G], det scores [D], det labels [D], gt labels [G]); mean AP over
    classes present in the ground truth and the 10 IoU thresholds, as COCOeval's AP."""
    aps = []
    for c in range(1, num_classes):
        n_gt = sum(int((g == c).sum()) for _, _, _, g in per_image)
        if n_gt == 0:
            continue
        for t in THRESHOLDS:
            scores, tps = [], []
            for iou, s, d, g in per_image:
                di, gi = np.where(d == c)[0], np.where(g == c)[0]
                di = di[np.argsort(-s[di], kind='stable')]
                taken = np.zeros(len(gi), bool)
                for k in di:
                    best, best_j = t - 1e-10, -1
                    for j, gj in enumerate(gi):
                        if not taken[j] and iou[k, gj] >= best:
                            best, best_j = iou[k, gj], j
                    if best_j >= 0:
                        taken[best_j] = True
                    scores.append(s[k])
                    tps.append(best_j >= 0)
            order = np.argsort(-np.array(scores), kind='mergesort')
            tp = np.cumsum(np.array(tps, bool)[order])
            fp = np.cumsum(~np.array(tps, bool)[order])
            recall = tp / n_gt
            precision = tp / np.maximum(tp + fp, 1e-12)
            for i in range(len(precision) - 1, 0, -1):
                precision[i - 1] = max(precision[i - 1], precision[i])
            idx = np.searchsorted(recall, RECALLS, side='left')
            q = np.array([precision[i] if i < len(precision) else 0.0 for i in idx])
            aps.append(q.mean())
    return float(np.mean(aps))


def load_checkpoint(model, path):
    ck = torch.load(path)
    state = ck['model'] if isinstance(ck, dict) and 'model' in ck else ck
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    if missing or unexpected:
        raise SystemExit('%s: missing %s, unexpected %s' % (path, missing[:5], unexpected[:5]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data', required=True)
    p.add_argument('--ckpt', required=True)
    p.add_argument('--split', default='val')
    p.add_argument('--images', type=int, default=0, help='first N images; 0: all')
    p.add_argument('--threads', type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ds = ShapesDataset(args.data, args.split)
    model = build_model(len(ds.names) + 1)
    load_checkpoint(model, args.ckpt)
    model.eval()
    n = len(ds) if args.images <= 0 else min(args.images, len(ds))
    boxes_eval, masks_eval = [], []
    t0 = time.time()
    with torch.no_grad():
        for i in range(n):
            image, target = ds.load(i)
            out = model([image])[0]
            s, d = out['scores'].numpy(), out['labels'].numpy()
            g = target['labels'].numpy()
            boxes_eval.append((box_iou(out['boxes'].numpy(), target['boxes'].numpy()), s, d, g))
            pm = (out['masks'][:, 0] > 0.5).numpy()
            masks_eval.append((mask_iou(pm, target['masks'].numpy()), s, d, g))
    num_classes = len(ds.names) + 1
    box_ap, mask_ap = average_precision(boxes_eval, num_classes), average_precision(masks_eval, num_classes)
    print('%s on %d %s images: box AP %.3f, mask AP %.3f (%.2f s/image)' % (
        args.ckpt, n, args.split, box_ap, mask_ap, (time.time() - t0) / n), flush=True)


if __name__ == '__main__':
    main()
