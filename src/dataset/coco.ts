/**
 * COCO instances JSON for the shapes dataset: visible masks as compressed RLE (pycocotools'
 * string form), bbox [x, y, w, h] and area taken from the same mask, iscrowd 0.
 */
import { rleEncode, rleToString } from '../../postprocess/rle.js';
import type { Scene } from './scene.js';
import { SHAPE_CLASSES, type ShapeClass } from './shapes.js';

export interface CocoImage { id: number; file_name: string; width: number; height: number }
export interface CocoCategory { id: number; name: string; supercategory: string }
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  /** Compressed RLE of the visible mask. */
  segmentation: { size: [number, number]; counts: string };
  /** Visible pixel count. */
  area: number;
  /** Tight box of the visible mask, [x, y, w, h] in pixels. */
  bbox: [number, number, number, number];
  iscrowd: 0;
}
export interface CocoInstances {
  info: { description: string; version: string; seed: number; split: string };
  images: CocoImage[];
  categories: CocoCategory[];
  annotations: CocoAnnotation[];
}

/** The categories of a task, ids 1..n in `classes` order (default: the six of SHAPE_CLASSES). */
export function shapeCategories(classes: readonly ShapeClass[] = SHAPE_CLASSES): CocoCategory[] {
  return classes.map((name, i) => ({ id: i + 1, name, supercategory: 'shape' }));
}

/**
 * Area and tight box of a mask.
 * @param mask Uint8Array [H, W] row-major
 */
export function maskBox(mask: Uint8Array, width: number, height: number): { area: number; bbox: [number, number, number, number] } {
  let x0 = width, y0 = height, x1 = -1, y1 = -1, area = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      area++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return area === 0 ? { area, bbox: [0, 0, 0, 0] } : { area, bbox: [x0, y0, x1 - x0 + 1, y1 - y0 + 1] };
}

/** Annotations of one scene; `nextId` is the first annotation id to use. */
export function sceneAnnotations(scene: Scene, imageId: number, nextId: number): CocoAnnotation[] {
  return scene.objects.map((o, k) => {
    const { area, bbox } = maskBox(o.mask, scene.width, scene.height);
    const rle = rleEncode(o.mask, scene.height, scene.width);
    return {
      id: nextId + k,
      image_id: imageId,
      category_id: o.label,
      segmentation: { size: [scene.height, scene.width], counts: rleToString(rle) },
      area,
      bbox,
      iscrowd: 0,
    };
  });
}
