/**
 * Detections of resdet's `detect` as COCO result entries, the form pycocotools' loadRes reads:
 * boxes as [x, y, width, height], labels mapped to the ground truth's category ids by class name.
 */
import type { Detection } from '../detector/result.js';
import { CocoFormatError } from './errors.js';
import type { CocoCategory, CocoDetection } from './types.js';

/**
 * Category id of each class name, from a ground truth's categories (the first category of a name wins).
 * @param source the annotation file, for error messages
 */
export function categoryIdsByName(categories: readonly CocoCategory[], source: string): Map<string, number> {
  const out = new Map<string, number>();
  categories.forEach((c, i) => {
    if (typeof c?.name !== 'string') throw new CocoFormatError(source, `categories[${i}].name`, 'is missing: class names are needed to map a model\'s labels to category ids');
    if (!out.has(c.name)) out.set(c.name, c.id);
  });
  return out;
}

/**
 * One image's detections as result entries. Detections of a class that is not a category of the
 * ground truth are left out and their class names added to `dropped`.
 * @param detections what `detect` returned, boxes [x1, y1, x2, y2]; masks, when present, as RLE
 */
export function toCocoResults(
  detections: readonly Detection[], imageId: number, categoryIds: ReadonlyMap<string, number>, dropped: Set<string> = new Set(),
): CocoDetection[] {
  const out: CocoDetection[] = [];
  for (const d of detections) {
    const categoryId = categoryIds.get(d.className);
    if (categoryId === undefined) { dropped.add(d.className); continue; }
    const [x1, y1, x2, y2] = d.box;
    const entry: CocoDetection = { image_id: imageId, category_id: categoryId, score: d.score, bbox: [x1, y1, x2 - x1, y2 - y1] };
    if (d.mask?.format === 'rle') entry.segmentation = { size: [d.mask.size[0], d.mask.size[1]], counts: d.mask.counts };
    out.push(entry);
  }
  return out;
}
