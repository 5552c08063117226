"""Reading the shapes dataset (COCO instances JSON written by `resdet dataset`) without pycocotools,
and the training batches drawn from it (or from any coco_data.CocoDataset)."""
import os

from coco_data import CocoDataset


class ShapesDataset(CocoDataset):
    """`resdet dataset`'s layout: <root>/annotations/instances_<split>.json, images in <root>/<split>
    (category ids 1..n, so labels are the ids)."""

    def __init__(self, root, split):
        super().__init__(os.path.join(root, 'annotations', 'instances_%s.json' % split), os.path.join(root, split))


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
