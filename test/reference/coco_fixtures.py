"""Writes test/fixtures/coco/*.json with pycocotools' COCOeval results (not run by the tests).

pycocotools is not a dependency: build cocodataset/cocoapi's PythonAPI (cython3 + numpy) outside the
repository and point PYCOCOTOOLS_DIR at its PythonAPI folder. numpy >= 1.24 removed np.float, which
cocoeval.py's accumulate uses: replace it with np.float64 in that copy (same dtype). coco.py imports
matplotlib for showAnns only; it is stubbed here.

usage: PYCOCOTOOLS_DIR=/tmp/cocoapi/PythonAPI python3 test/reference/coco_fixtures.py test/fixtures/coco
"""
import contextlib, copy, io, json, os, sys, types
import numpy as np

for name in ['matplotlib', 'matplotlib.pyplot', 'matplotlib.collections', 'matplotlib.patches']:
    sys.modules[name] = types.ModuleType(name)
sys.modules['matplotlib.collections'].PatchCollection = object
sys.modules['matplotlib.patches'].Polygon = object
sys.path.insert(0, os.environ.get('PYCOCOTOOLS_DIR', '/tmp/cocoapi/PythonAPI'))
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval, Params  # noqa: E402
from pycocotools import mask as maskUtils  # noqa: E402


def run_eval(gt, dt, iou_type, full=False, params=None):
    """COCOeval on deep copies (loadRes and _prepare modify their input); returns stats and printed lines."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        res = coco.loadRes(copy.deepcopy(dt))
        ev = COCOeval(coco, res, iou_type)
        for k, v in (params or {}).items():
            setattr(ev.params, k, v)
        ev.evaluate()
        ev.accumulate()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ev.summarize()
    r = {'stats': [float(s) for s in ev.stats], 'summary': out.getvalue().rstrip('\n')}
    if full:
        r['precision'] = [float(v) for v in ev.eval['precision'].ravel()]
        r['recall'] = [float(v) for v in ev.eval['recall'].ravel()]
        r['counts'] = ev.eval['counts']
    else:
        # per [T, K, A, M] sums over the recall thresholds: a compact check of the whole array
        r['precisionSumOverR'] = [float(v) for v in ev.eval['precision'].sum(axis=1).ravel()]
        r['recall'] = [float(v) for v in ev.eval['recall'].ravel()]
    return r


def hand_case():
    """Two 100x100 images, two categories; small enough to check by hand."""
    sq = lambda x, y, w, h: [[x, y, x + w, y, x + w, y + h, x, y + h]]
    gt = {
        'images': [{'id': 1, 'height': 100, 'width': 100}, {'id': 2, 'height': 100, 'width': 100}],
        'categories': [{'id': 1, 'name': 'cat'}, {'id': 2, 'name': 'dog'}],
        'annotations': [
            {'id': 1, 'image_id': 1, 'category_id': 1, 'bbox': [10, 10, 20, 20], 'area': 400, 'iscrowd': 0, 'segmentation': sq(10, 10, 20, 20)},
            {'id': 2, 'image_id': 1, 'category_id': 1, 'bbox': [50, 50, 40, 40], 'area': 1600, 'iscrowd': 0, 'segmentation': sq(50, 50, 40, 40)},
            {'id': 3, 'image_id': 2, 'category_id': 2, 'bbox': [0, 0, 50, 50], 'area': 2500, 'iscrowd': 0, 'segmentation': sq(0, 0, 50, 50)},
        ],
    }
    # image 1 cat 1: an exact match of gt 2 (score .9), a box on gt 1 shifted by 5 px (IoU 15*20/(2*400-300) = 0.6, score .8),
    # a false positive (score .7); image 2 cat 2: an exact match (score .6)
    boxes = [(1, 1, [50, 50, 40, 40], 0.9), (1, 1, [15, 10, 20, 20], 0.8), (1, 1, [70, 0, 10, 10], 0.7), (2, 2, [0, 0, 50, 50], 0.6)]
    dt = []
    for img, cat, b, s in boxes:
        rle = maskUtils.frPyObjects(sq(*b), 100, 100)[0]
        dt.append({'image_id': img, 'category_id': cat, 'bbox': b, 'score': s,
                   'segmentation': {'size': rle['size'], 'counts': rle['counts'].decode()}})
    return gt, dt


def blob(rng, h, w, x, y, bw, bh):
    m = np.zeros((h, w), np.uint8, order='F')
    for _ in range(4):  # a union of rectangles inside the box: a crowd region with holes and parts
        x0, y0 = x + int(rng.integers(0, max(1, bw // 2))), y + int(rng.integers(0, max(1, bh // 2)))
        m[y0:y0 + max(1, bh // 2), x0:x0 + max(1, bw // 2)] = 1
    return m


def polygon(rng, x, y, w, h, n):
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rx, ry = w / 2 * rng.uniform(0.6, 1.0, n), h / 2 * rng.uniform(0.6, 1.0, n)
    cx, cy = x + w / 2, y + h / 2
    return [round(float(v), 2) for p in zip(cx + rx * np.cos(ang), cy + ry * np.sin(ang)) for v in p]


def random_case(seed, n_images, seg_only=False):
    rng = np.random.default_rng(seed)
    cat_ids = [1, 3, 7, 12, 20]  # 20 has no ground truth; 12 has no detections
    gt = {'images': [], 'categories': [{'id': c, 'name': f'c{c}'} for c in cat_ids], 'annotations': []}
    dt = []
    aid = 1
    for img in range(1, n_images + 1):
        h, w = int(rng.integers(48, 200)), int(rng.integers(48, 200))
        image_id = img * 10 + 1
        gt['images'].append({'id': image_id, 'height': h, 'width': w})
        kind = rng.random()
        n_gt = 0 if kind < 0.1 else int(rng.integers(1, 8))
        for _ in range(n_gt):
            cat = int(rng.choice(cat_ids[:4]))
            bw, bh = int(rng.integers(3, w)), int(rng.integers(3, h))
            x, y = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
            crowd = rng.random() < 0.08
            if crowd:
                m = blob(rng, h, w, x, y, bw, bh)
                rle = maskUtils.encode(m)
                seg, area = {'size': [h, w], 'counts': run_lengths(m)}, float(maskUtils.area(rle))
                bbox = [float(v) for v in maskUtils.toBbox(rle)]
            else:
                parts = [polygon(rng, x, y, bw, bh, int(rng.integers(3, 10)))]
                if rng.random() < 0.15:
                    parts.append(polygon(rng, x, y, bw / 2, bh / 2, 5))
                rle = maskUtils.merge(maskUtils.frPyObjects(parts, h, w))
                seg = parts
                area = float(maskUtils.area(rle)) if rng.random() < 0.5 else round(bw * bh * 0.7, 3)
                bbox = [float(x), float(y), float(bw), float(bh)]
            gt['annotations'].append({'id': aid, 'image_id': image_id, 'category_id': cat, 'bbox': bbox, 'area': area,
                                      'iscrowd': int(crowd), 'segmentation': seg})
            aid += 1
            if cat != 12 and rng.random() < 0.85:
                for _ in range(int(rng.integers(1, 3))):
                    j = rng.normal(0, 0.12, 4) * [bw, bh, bw, bh]
                    dx, dy = max(0.0, x + j[0]), max(0.0, y + j[1])
                    dw, dh = max(1.0, bw + j[2]), max(1.0, bh + j[3])
                    base = seg[0] if isinstance(seg, list) else polygon(rng, x, y, bw, bh, 8)
                    shifted = [round(float(v + j[k % 2] + rng.normal(0, 1.0)), 2) for k, v in enumerate(base)]
                    dt.append(detection(rng, image_id, cat, [dx, dy, dw, dh], h, w, seg_only, shifted))
        if kind > 0.9:
            continue  # no detections on this image beyond those made above
        n_fp = int(rng.integers(0, 6)) if rng.random() > 0.03 else 130  # a few images past maxDets = 100
        for _ in range(n_fp):
            bw, bh = float(rng.integers(2, w)), float(rng.integers(2, h))
            b = [float(rng.uniform(0, w - bw)), float(rng.uniform(0, h - bh)), bw, bh]
            dt.append(detection(rng, image_id, int(rng.choice([1, 3, 7, 20])), b, h, w, seg_only))
    return gt, dt


def run_lengths(mask):
    """Uncompressed COCO counts (column-major runs, zeros first), as crowd annotations store them."""
    flat = mask.ravel(order='F')
    counts, prev, run = [], 0, 0
    for v in flat:
        if v != prev:
            counts.append(run)
            prev, run = v, 0
        run += 1
    counts.append(run)
    return counts


def detection(rng, image_id, cat, b, h, w, seg_only, poly=None):
    score = float(round(rng.random(), 2))  # two decimals: many ties
    b = [round(float(v), 2) for v in b]
    parts = [poly if poly is not None else polygon(rng, b[0], b[1], b[2], b[3], 8)]
    rle = maskUtils.merge(maskUtils.frPyObjects(parts, h, w))
    d = {'image_id': image_id, 'category_id': cat, 'score': score,
         'segmentation': {'size': [h, w], 'counts': rle['counts'].decode()}}
    if not seg_only:
        d['bbox'] = b
    return d


def edge_cases():
    """Corners of pycocotools' semantics, each a small case with its params."""
    gt, dt = hand_case()
    box_only = [{k: v for k, v in d.items() if k != 'segmentation'} for d in dt]
    cases = [
        ('results with boxes only, evaluated as segm (the box polygon is the mask)', gt, box_only, 'segm', {}),
        ('useCats = 0 (categories pooled)', gt, dt, 'bbox', {'useCats': 0}),
        ('maxDets [1, 2, 3]: AP at maxDets=100 finds nothing (-1)', gt, dt, 'bbox', {'maxDets': [1, 2, 3]}),
        ('imgIds and catIds subsets', gt, dt, 'bbox', {'imgIds': [1], 'catIds': [1]}),
    ]
    g2 = copy.deepcopy(gt)
    g2['annotations'][1]['id'] = 0  # matched to a gt of id 0: dtMatches 0 reads as unmatched
    cases.append(('a ground truth of id 0 reads as unmatched', g2, dt, 'bbox', {}))
    g3 = copy.deepcopy(gt)
    g3['annotations'].append({'id': 9, 'image_id': 1, 'category_id': 1, 'bbox': [0, 0, 100, 100], 'area': 10000, 'iscrowd': 1,
                              'segmentation': {'size': [100, 100], 'counts': [0, 5000, 5000]}})
    d3 = copy.deepcopy(dt) + [{'image_id': 1, 'category_id': 1, 'bbox': [0, 0, 30, 30], 'score': 0.85},
                              {'image_id': 1, 'category_id': 1, 'bbox': [0, 60, 40, 40], 'score': 0.85}]
    for d in d3:
        d.pop('segmentation', None)
    cases.append(('a crowd region taking several detections', g3, d3, 'segm', {}))
    cases.append(('the same with boxes: crowd IoU is intersection over the detection area', g3, d3, 'bbox', {}))
    return [{'name': n, 'gt': g, 'dt': d, 'iouType': t, 'params': prm, 'expected': run_eval(g, d, t, params=prm)}
            for n, g, d, t, prm in cases]


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    gt, dt = hand_case()
    p = Params('bbox')
    fmt = [0.0625, 0.1875, 0.0005, 0.0015, 0.9995, 1 / 3, 2 / 3, 0.5, -1.0, 0.12345, 0.1235, 0.875]
    hand = {'gt': gt, 'dt': dt, 'bbox': run_eval(gt, dt, 'bbox', full=True), 'segm': run_eval(gt, dt, 'segm'),
            'iouThrs': [float(v) for v in p.iouThrs], 'recThrs': [float(v) for v in p.recThrs],
            'format3': [[v, '{:0.3f}'.format(v)] for v in fmt]}
    write(out_dir, 'hand.json', hand)
    write(out_dir, 'edge.json', {'cases': edge_cases()})
    for name, seed, n, seg_only in [('random_a.json', 1, 200, False), ('random_b.json', 2, 120, False), ('random_segonly.json', 3, 80, True)]:
        gt, dt = random_case(seed, n, seg_only)
        case = {'gt': gt, 'dt': dt}
        if not seg_only:
            case['bbox'] = run_eval(gt, dt, 'bbox')
        case['segm'] = run_eval(gt, dt, 'segm')
        case['bboxFromSegm'] = run_eval(gt, dt, 'bbox') if seg_only else None
        write(out_dir, name, case)


def write(out_dir, name, obj):
    with open(os.path.join(out_dir, name), 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
    print(name, os.path.getsize(os.path.join(out_dir, name)))


if __name__ == '__main__':
    main(sys.argv[1])
