"""A COCO instances folder as torchvision detection targets, for tools/finetune.py: any category
ids (mapped to labels 1..n in id order), masks from compressed or uncompressed RLE or polygons,
crowd annotations left out. Problems are DataError naming the file."""
import json
import os

import numpy as np
import torch
from PIL import Image, ImageDraw


def rle_from_string(counts, h, w):
    """Decodes a compressed COCO RLE string (maskApi.c rleFrString) into a uint8 [h, w] mask."""
    cnts = []
    p = 0
    while p < len(counts):
        x, k, more = 0, 0, True
        while more:
            c = ord(counts[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(cnts) > 2:
            x += cnts[-2]
        cnts.append(x)
    flat = np.zeros(h * w, dtype=np.uint8)
    pos, val = 0, 0
    for c in cnts:
        if val:
            flat[pos:pos + c] = 1
        pos += c
        val ^= 1
    # RLE runs are column-major
    return flat.reshape(w, h).T.copy()


class DataError(Exception):
    """A COCO file or image folder that cannot be used; the message names the file."""


def decode_segmentation(seg, h, w, where):
    if isinstance(seg, dict) and isinstance(seg.get('counts'), str):
        return rle_from_string(seg['counts'], h, w)
    if isinstance(seg, dict) and isinstance(seg.get('counts'), list):
        flat = np.zeros(h * w, dtype=np.uint8)
        pos, val = 0, 0
        for c in seg['counts']:
            if val:
                flat[pos:pos + c] = 1
            pos += c
            val ^= 1
        return flat.reshape(w, h).T.copy()
    if isinstance(seg, list):
        canvas = Image.new('L', (w, h), 0)
        draw = ImageDraw.Draw(canvas)
        for poly in seg:
            if len(poly) >= 6:
                draw.polygon([float(x) for x in poly], outline=1, fill=1)
        return np.asarray(canvas, dtype=np.uint8).copy()
    raise DataError('%s: a segmentation that is neither RLE nor polygons' % where)


class CocoDataset:
    """Images as float [3, H, W] in [0, 1]; targets as torchvision detection dicts."""

    def __init__(self, annotations, images, need_masks=True):
        if not os.path.isfile(annotations):
            raise DataError('%s: no such COCO annotation file' % annotations)
        try:
            with open(annotations) as f:
                coco = json.load(f)
        except ValueError as e:
            raise DataError('%s: not JSON (%s)' % (annotations, e))
        for key in ('images', 'annotations', 'categories'):
            if not isinstance(coco.get(key) if isinstance(coco, dict) else None, list):
                raise DataError('%s: not a COCO instances file (no "%s" list)' % (annotations, key))
        if not coco['categories']:
            raise DataError('%s: lists no categories' % annotations)
        if not os.path.isdir(images):
            raise DataError('%s: the images of %s are not there (no such folder)' % (images, annotations))
        missing = [im['file_name'] for im in coco['images'] if not os.path.isfile(os.path.join(images, im['file_name']))]
        if missing:
            raise DataError('%s: %d of its %d images are not in %s (first: %s)' % (
                annotations, len(missing), len(coco['images']), images, missing[0]))
        self.file = annotations
        self.folder = images
        self.need_masks = need_masks
        cats = sorted(coco['categories'], key=lambda c: c['id'])
        self.names = [c['name'] for c in cats]
        self.label_of = {c['id']: i + 1 for i, c in enumerate(cats)}
        self.images = coco['images']
        by_image = {im['id']: [] for im in self.images}
        for a in coco['annotations']:
            if a.get('iscrowd', 0):
                continue
            if a['image_id'] not in by_image or a['category_id'] not in self.label_of:
                raise DataError('%s: annotation %s names an unknown image or category' % (annotations, a.get('id')))
            by_image[a['image_id']].append(a)
        self.anns = by_image

    def __len__(self):
        return len(self.images)

    def load(self, i):
        im = self.images[i]
        path = os.path.join(self.folder, im['file_name'])
        try:
            rgb = np.asarray(Image.open(path).convert('RGB'))
        except OSError as e:
            raise DataError('%s: cannot read the image (%s)' % (path, e))
        image = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255.0
        h, w = rgb.shape[0], rgb.shape[1]
        anns = [a for a in self.anns[im['id']] if a['bbox'][2] > 0 and a['bbox'][3] > 0]
        boxes = torch.tensor([[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2], a['bbox'][1] + a['bbox'][3]] for a in anns],
                             dtype=torch.float32).reshape(-1, 4)
        labels = torch.tensor([self.label_of[a['category_id']] for a in anns], dtype=torch.int64)
        target = {'boxes': boxes, 'labels': labels, 'image_id': im['id']}
        if self.need_masks:
            where = '%s (image %s)' % (self.file, im['file_name'])
            target['masks'] = torch.from_numpy(np.stack([decode_segmentation(a['segmentation'], h, w, where) for a in anns])) if anns \
                else torch.zeros((0, h, w), dtype=torch.uint8)
        return image, target
