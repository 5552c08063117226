"""Loads a COCO instances file with the real pycocotools and prints what it read, as JSON.

Used by test/helpers/pycocotools.ts (validateWithPycocotools) to prove our COCO files load in
pycocotools' `COCO()` and that its masks agree with ours. pycocotools is built from the vendored
cocodataset/cocoapi source by tools/build-pycocotools.sh; PYCOCOTOOLS_DIR is the folder holding
its `pycocotools/` package (default .cache/pycocotools).

For every annotation: COCO.annToRLE (polygons merged, uncompressed RLE compressed, compressed RLE
as is), COCO.annToMask, and mask.area / mask.toBbox of the RLE. Prints
  {images, annotations, categories, imageIds, annotationIds,
   perAnnotation: [{id, maskArea, rleArea, maskBbox, area, bbox}], errors: [str]}
maskArea is the decoded mask's pixel count; area and bbox are the annotation's own fields. An
annotation pycocotools cannot read (e.g. an image_id with no image), or whose mask is not the size
of its image, is reported in errors. A file COCO() cannot load at all exits 1 naming the problem.

usage: python3 test/reference/pycoco_validate.py instances.json
"""
import contextlib, io, json, os, sys, traceback

sys.path.insert(0, os.environ.get('PYCOCOTOOLS_DIR') or os.path.join(os.path.dirname(__file__), '..', '..', '.cache', 'pycocotools'))
from pycocotools.coco import COCO  # noqa: E402
from pycocotools import mask as maskUtils  # noqa: E402


def main(path):
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints its progress
            coco = COCO(path)
    except Exception as e:
        sys.exit(f'pycocotools COCO({path!r}) failed: {type(e).__name__}: {e}\n{traceback.format_exc()}')
    per, errors = [], []
    for ann in coco.dataset.get('annotations', []):
        aid = ann.get('id')
        try:
            rle = coco.annToRLE(ann)
            mask = coco.annToMask(ann)
            img = coco.imgs[ann['image_id']]
            if mask.shape != (img['height'], img['width']):
                errors.append(f"annotation {aid}: mask is {mask.shape[1]}x{mask.shape[0]}, image {ann['image_id']} is {img['width']}x{img['height']}")
            per.append({'id': aid, 'maskArea': int(mask.sum()), 'rleArea': int(maskUtils.area(rle)),
                        'maskBbox': [float(v) for v in maskUtils.toBbox(rle)],
                        'area': ann.get('area'), 'bbox': ann.get('bbox')})
        except Exception as e:
            errors.append(f'annotation {aid}: {type(e).__name__}: {e}')
    report = {
        'images': len(coco.imgs), 'annotations': len(coco.anns), 'categories': len(coco.cats),
        'imageIds': sorted(coco.getImgIds()), 'annotationIds': sorted(coco.getAnnIds()),
        'perAnnotation': per, 'errors': errors,
    }
    json.dump(report, sys.stdout)


if __name__ == '__main__':
    main(sys.argv[1])
