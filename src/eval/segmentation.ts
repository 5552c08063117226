/**
 * COCO segmentations to RLE, as pycocotools' COCO.annToRLE does it (frPyObjects + merge):
 * polygons are rasterised with maskApi.c's rleFrPoly and the parts of one object merged; an
 * uncompressed RLE (crowd annotations) is taken as is; a compressed RLE is decoded from its string.
 */
import { OperatorInputError, type Rle, rleFrPoly, rleFrString, rleMerge } from '../../postprocess/typed.js';

/** Reports a bad value: throws, naming the field below the annotation (e.g. 'segmentation.counts'). */
export type Fail = (field: string, message: string) => never;

/**
 * One annotation's segmentation as an RLE of the image's size.
 * @param segm the `segmentation` value, straight from JSON
 * @param height image height (from the ground truth's `images` entry)
 * @param width image width
 * @param fail called with the field and the problem when the value cannot be read
 */
export function segmentationToRle(segm: unknown, height: number, width: number, fail: Fail): Rle {
  try {
    if (Array.isArray(segm)) return polygonsToRle(segm, height, width, fail);
    if (segm !== null && typeof segm === 'object' && 'counts' in segm && 'size' in segm) {
      return rleObjectToRle(segm as { counts: unknown; size: unknown }, height, width, fail);
    }
  } catch (e) {
    if (e instanceof OperatorInputError) fail('segmentation', e.message);
    throw e;
  }
  return fail('segmentation', 'must be a list of polygons or an RLE { size: [h, w], counts }');
}

function polygonsToRle(polygons: unknown[], height: number, width: number, fail: Fail): Rle {
  if (polygons.length === 0) fail('segmentation', 'is an empty list of polygons');
  polygons.forEach((p, i) => {
    if (!Array.isArray(p) || !p.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      fail(`segmentation[${i}]`, 'must be a list of finite numbers [x0, y0, x1, y1, ...]');
    }
  });
  const parts = polygons as number[][];
  const first = parts[0].length;
  // frPyObjects takes a list whose first part has 4 numbers for boxes and then fails (its frBbox
  // wants an ndarray), fewer than 4 fails too: refuse both with the reason.
  if (first <= 4) return fail('segmentation[0]', `has ${first} numbers; a polygon needs at least 3 points (6 numbers)`);
  const rles = parts.map((p, i) => {
    // pycocotools passes int(len(p) / 2) points: an odd trailing number is dropped.
    const k = Math.floor(p.length / 2);
    if (k < 1) fail(`segmentation[${i}]`, 'has no point');
    return rleFrPoly(p.length === 2 * k ? p : p.slice(0, 2 * k), height, width);
  });
  return rles.length === 1 ? rles[0] : rleMerge(rles);
}

function rleObjectToRle(segm: { counts: unknown; size: unknown }, height: number, width: number, fail: Fail): Rle {
  const size = segm.size;
  if (!Array.isArray(size) || size.length !== 2 || size[0] !== height || size[1] !== width) {
    fail('segmentation.size', `is ${JSON.stringify(size)}, but the image is [${height}, ${width}] (height, width)`);
  }
  const counts = segm.counts;
  if (typeof counts === 'string') return rleFrString(counts, height, width);
  if (Array.isArray(counts) && counts.every((c) => Number.isSafeInteger(c) && c >= 0)) {
    const total = (counts as number[]).reduce((a, c) => a + c, 0);
    if (total !== height * width) fail('segmentation.counts', `runs sum to ${total}, not height * width = ${height * width}`);
    return { size: [height, width], counts: counts.slice() as number[] };
  }
  return fail('segmentation.counts', 'must be a compressed RLE string or a list of run lengths (integers >= 0)');
}
