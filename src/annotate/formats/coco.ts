/**
 * The COCO instances file of an annotate run (the format of COCO's instances_*.json, which
 * pycocotools' COCO(), CVAT, FiftyOne and Label Studio's converter read) and its failures list.
 *
 * Everything is a pure function of the set of records: the same records in any order give the same
 * file, so a resumed, interrupted or sharded-and-merged run writes what one uninterrupted run does.
 */
import type { Category, CocoRle, DoneRecord, FailedRecord, ImageRecord } from '../types.js';

export interface CocoImageEntry {
  id: number;
  file_name: string;
  width: number;
  height: number;
}

/** COCO polygons [[x1, y1, x2, y2, ...], ...] in pixels, or a compressed RLE. */
export type CocoSegmentation = CocoRle | number[][];

export interface CocoAnnotationEntry {
  id: number;
  image_id: number;
  category_id: number;
  /** [x, y, width, height] in pixels */
  bbox: [number, number, number, number];
  /** mask pixels (box width * height for a model without masks) */
  area: number;
  /** absent for a model without masks */
  segmentation?: CocoSegmentation;
  score: number;
  iscrowd: 0;
}

export interface CocoCategoryEntry {
  id: number;
  name: string;
  supercategory: string;
}

/** A COCO instances file. */
export interface CocoInstances {
  info: Record<string, unknown>;
  images: CocoImageEntry[];
  annotations: CocoAnnotationEntry[];
  categories: CocoCategoryEntry[];
}

/** One entry of failures.json. */
export interface FailureEntry {
  id: number;
  file_name: string;
  /** the error's code, e.g. IMAGE_DECODE */
  code: string;
  error: string;
}

/** The done records, one per image id, sorted by id. */
export function doneRecords(records: readonly ImageRecord[]): DoneRecord[] {
  return sortedById(records.filter((r): r is DoneRecord => r.kind === 'done'));
}

/** The failed records, sorted by id. */
export function failedRecords(records: readonly ImageRecord[]): FailedRecord[] {
  return sortedById(records.filter((r): r is FailedRecord => r.kind === 'failed'));
}

function sortedById<T extends ImageRecord>(records: T[]): T[] {
  const out = records.slice().sort((a, b) => a.id - b.id);
  for (let i = 1; i < out.length; i++) {
    if (out[i].id === out[i - 1].id) {
      // the journal and merge give one record per image; two are a bug, never a user's mistake
      throw new Error(`internal error: two records for image id ${out[i].id} (${out[i - 1].fileName}, ${out[i].fileName})`);
    }
  }
  return out;
}

/**
 * The objects of a record that get an annotation, with their segmentation (absent when none):
 * with `polygons`, an object whose mask is empty (polygons []) is left out, since pycocotools
 * refuses an empty polygon list and there is no shape to show; without, its empty RLE is kept.
 * Formats that draw shapes (YOLO, Label Studio) follow the same rule.
 * @throws Error when `polygons` is asked for and a masked object has none (the caller's bug)
 */
export function annotatedObjects(record: DoneRecord, polygons: boolean): Array<{ index: number; segmentation?: CocoSegmentation }> {
  const out: Array<{ index: number; segmentation?: CocoSegmentation }> = [];
  record.objects.forEach((o, index) => {
    if (!polygons || o.rle === undefined) {
      out.push(o.rle === undefined ? { index } : { index, segmentation: o.rle });
      return;
    }
    if (o.polygons === undefined) throw new Error(`internal error: object ${index} of ${record.fileName} has a mask but no polygons`);
    if (o.polygons.length > 0) out.push({ index, segmentation: o.polygons });
  });
  return out;
}

/**
 * The COCO instances of the done records: images sorted by id; annotations numbered 1..M in
 * (image id, detection order); segmentation from each object's RLE, or its polygons with
 * `polygons` (see {@link annotatedObjects}); categories sorted by id, supercategory 'object' unless
 * given. Failed records are not images of the dataset (see {@link failuresList}).
 */
export function cocoInstances(
  records: readonly ImageRecord[], categories: readonly Category[],
  options: { polygons: boolean; info?: Record<string, unknown> },
): CocoInstances {
  const images: CocoImageEntry[] = [];
  const annotations: CocoAnnotationEntry[] = [];
  for (const r of doneRecords(records)) {
    images.push({ id: r.id, file_name: r.fileName, width: r.width, height: r.height });
    for (const { index, segmentation } of annotatedObjects(r, options.polygons)) {
      const o = r.objects[index];
      annotations.push({
        id: annotations.length + 1,
        image_id: r.id,
        category_id: o.categoryId,
        bbox: [o.bbox[0], o.bbox[1], o.bbox[2], o.bbox[3]],
        area: o.area,
        ...(segmentation === undefined ? {} : { segmentation }),
        score: o.score,
        iscrowd: 0,
      });
    }
  }
  return { info: { ...(options.info ?? {}) }, images, annotations, categories: cocoCategories(categories) };
}

/** The categories as COCO lists them, sorted by id. */
export function cocoCategories(categories: readonly Category[]): CocoCategoryEntry[] {
  return categories
    .map((c) => ({ id: c.id, name: c.name, supercategory: c.supercategory ?? 'object' }))
    .sort((a, b) => a.id - b.id);
}

/** failures.json: every failed image with its error, sorted by id. */
export function failuresList(records: readonly ImageRecord[]): FailureEntry[] {
  return failedRecords(records).map((r) => ({ id: r.id, file_name: r.fileName, code: r.code, error: r.error }));
}
