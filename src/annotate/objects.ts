/** From detections to the dataset's objects: COCO box, RLE mask and area, polygons. */
import { rleArea, rleEncodeWindow, rleToString } from '../../postprocess/typed.js';
import type { BinaryMask, Detection } from '../detector/result.js';
import { maskToPolygons } from './polygons.js';
import type { AnnotatedObject } from './types.js';

/**
 * COCO objects of one image's detections: bbox [x, y, w, h], the mask's RLE and area, polygons
 * when asked. Detections whose area (mask pixels, or box area without masks) is below `minArea`
 * are dropped here, after the model's own thresholds.
 */
export function toObjects(detections: readonly Detection[], width: number, height: number, polygons: boolean, tolerance: number, minArea: number): AnnotatedObject[] {
  const objects: AnnotatedObject[] = [];
  for (const d of detections) {
    const [x1, y1, x2, y2] = d.box;
    const bbox: [number, number, number, number] = [x1, y1, x2 - x1, y2 - y1];
    const mask = d.mask?.format === 'binary' ? (d.mask as BinaryMask) : undefined;
    const object: AnnotatedObject = { bbox, score: d.score, categoryId: d.label, area: bbox[2] * bbox[3] };
    if (mask) {
      const rle = rleEncodeWindow(mask.data, mask, height, width);
      object.rle = { size: [height, width], counts: rleToString(rle) };
      object.area = rleArea(rle);
      if (polygons) object.polygons = maskToPolygons(mask, tolerance);
    }
    if (object.area >= minArea) objects.push(object);
  }
  return objects;
}
