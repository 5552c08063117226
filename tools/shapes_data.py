"""Reading the shapes dataset (COCO instances JSON written by `resdet dataset`) without pycocotools."""
import json
import os

import numpy as np
import torch
from PIL import Image


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


class ShapesDataset:
    """Images as float [3, H, W] in [0, 1]; targets as torchvision detection dicts."""

    def __init__(self, root, split):
        with open(os.path.join(root, 'annotations', 'instances_%s.json' % split)) as f:
            coco = json.load(f)
        self.folder = os.path.join(root, split)
        self.images = coco['images']
        self.categories = coco['categories']
        by_image = {im['id']: [] for im in self.images}
        for a in coco['annotations']:
            by_image[a['image_id']].append(a)
        self.anns = by_image

    def __len__(self):
        return len(self.images)

    def load(self, i):
        im = self.images[i]
        rgb = np.asarray(Image.open(os.path.join(self.folder, im['file_name'])).convert('RGB'))
        image = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255.0
        anns = self.anns[im['id']]
        h, w = im['height'], im['width']
        boxes = torch.tensor([[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2], a['bbox'][1] + a['bbox'][3]] for a in anns],
                             dtype=torch.float32).reshape(-1, 4)
        labels = torch.tensor([a['category_id'] for a in anns], dtype=torch.int64)
        masks = torch.from_numpy(np.stack([rle_from_string(a['segmentation']['counts'], h, w) for a in anns])) if anns \
            else torch.zeros((0, h, w), dtype=torch.uint8)
        return image, {'boxes': boxes, 'labels': labels, 'masks': masks, 'image_id': im['id']}


def flip(image, target, horizontal):
    """Flips an image and its target (boxes xyxy, masks) horizontally or vertically."""
    axis = 2 if horizontal else 1
    image = image.flip(axis)
    masks = target['masks'].flip(axis)
    b = target['boxes'].clone()
    size = image.shape[axis]
    if horizontal:
        b[:, [0, 2]] = size - target['boxes'][:, [2, 0]]
    else:
        b[:, [1, 3]] = size - target['boxes'][:, [3, 1]]
    return image, dict(target, boxes=b, masks=masks)


def batch(ds, rng, size, error=ValueError):
    """`size` random images of `ds` with at least one object each, each flipped horizontally and
    vertically at random (the training augmentation). Raises `error` naming the dataset when 100
    draws per image find none with objects."""
    images, targets = [], []
    tries = 0
    while len(images) < size:
        image, target = ds.load(rng.randrange(len(ds)))
        tries += 1
        if len(target['labels']) == 0:
            if tries > 100 * size:
                raise error('%s: no image with annotations among %d drawn' % (getattr(ds, 'file', ds.folder), tries))
            continue
        if rng.random() < 0.5:
            image, target = flip(image, target, horizontal=True)
        if rng.random() < 0.5:
            image, target = flip(image, target, horizontal=False)
        images.append(image)
        targets.append(target)
    return images, targets
